#pragma once

// A stream layer under a WebSocket that gathers writes: each write is copied
// into a buffer and completes at once, and the buffer goes to the socket in
// one write once the handlers already queued on the executor have run (the
// flush is posted, so it goes to the back of the queue) and no write is in
// flight. Frames queued meanwhile leave together, one syscall for many
// frames (a loopback write costs about 10 us whatever its size); the busier
// the server, the longer its queue and the bigger each batch. Reads pass
// through.
//
// Single-threaded like the stream it wraps (the connection's strand). The
// owner gives keep_alive() a weak pointer to itself so that an in-flight write
// keeps the owner, and thus this layer, alive.

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/websocket/teardown.hpp>

namespace confab::stream {

template <class Next>
class coalescing_stream {
 public:
  using next_layer_type = Next;
  using executor_type = typename Next::executor_type;

  template <class... Args>
  explicit coalescing_stream(Args&&... args) : next_(std::forward<Args>(args)...) {}

  executor_type get_executor() noexcept { return next_.get_executor(); }
  Next& next_layer() noexcept { return next_; }
  const Next& next_layer() const noexcept { return next_; }

  void keep_alive(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

  // Bytes accepted but not yet handed to the socket, and all bytes held.
  [[nodiscard]] std::size_t backlog() const noexcept { return pending_.size(); }
  [[nodiscard]] std::size_t held() const noexcept { return pending_.size() + writing_.size(); }

  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    return next_.async_read_some(buffers, std::forward<Handler>(handler));
  }

  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    return boost::asio::async_initiate<Handler, void(boost::beast::error_code, std::size_t)>(
        [this](auto done, const ConstBuffers& b) {
          std::size_t n = 0;
          if (!failed_) {
            n = boost::asio::buffer_size(b);
            auto old = pending_.size();
            pending_.resize(old + n);
            boost::asio::buffer_copy(boost::asio::buffer(&pending_[old], n), b);
            note_held();
            schedule_flush();
          }
          boost::asio::post(get_executor(), boost::beast::bind_handler(std::move(done), failed_, n));
        },
        handler, buffers);
  }

  // Appends bytes that must stay whole (a complete WebSocket frame) as if
  // written, without a write operation; dropped once the stream has failed.
  void append(std::string_view head, std::string_view body) {
    if (failed_)
      return;
    pending_.append(head).append(body);
    note_held();
    schedule_flush();
  }

  // Drops what is not yet on the wire. Only whole frames are ever pending, so
  // what follows (a close frame) still parses.
  void discard_backlog() {
    pending_.clear();
    note_held();
  }

  // Kept up to date with held(), for readers on other threads.
  void track(std::atomic<std::size_t>* gauge) { gauge_ = gauge; }

  // Runs `then` once everything accepted so far is on the socket (or failed).
  void after_flush(std::function<void()> then) {
    if (!flushing_ && !flush_posted_)
      return then();
    waiting_ = std::move(then);
  }

 private:
  void note_held() {
    if (gauge_)
      gauge_->store(held(), std::memory_order_relaxed);
  }

  void schedule_flush() {
    auto self = owner_.lock();
    if (flush_posted_ || flushing_ || !self)
      return;
    flush_posted_ = true;
    boost::asio::post(get_executor(), [this, self = std::move(self)] {
      flush_posted_ = false;
      flush();
      if (!flushing_ && waiting_)
        std::exchange(waiting_, nullptr)();
    });
  }

  void flush() {
    auto self = owner_.lock();
    if (flushing_ || pending_.empty() || !self)
      return;
    flushing_ = true;
    writing_.swap(pending_);
    boost::asio::async_write(next_, boost::asio::buffer(writing_),
                             [this, self = std::move(self)](boost::beast::error_code ec, std::size_t) {
                               flushing_ = false;
                               // An idle connection holds no buffer (a few hundred bytes each, times
                               // thousands of connections); allocating again costs less than the write.
                               std::string().swap(writing_);
                               if (ec) {
                                 failed_ = ec;
                                 pending_.clear();
                               } else {
                                 flush();
                               }
                               note_held();
                               if (!flushing_ && !flush_posted_ && waiting_)
                                 std::exchange(waiting_, nullptr)();
                             });
  }

  Next next_;
  std::weak_ptr<void> owner_;
  std::string pending_;
  std::string writing_;
  bool flushing_ = false;
  bool flush_posted_ = false;
  boost::beast::error_code failed_;
  std::function<void()> waiting_;
  std::atomic<std::size_t>* gauge_ = nullptr;
};

// The WebSocket close ends the connection only after the buffered frames
// (the close frame among them) are written.
template <class Next, class Handler>
void async_teardown(boost::beast::role_type role, coalescing_stream<Next>& stream, Handler&& handler) {
  auto h = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
  stream.after_flush([role, &stream, h] {
    using boost::beast::async_teardown;
    using boost::beast::websocket::async_teardown;
    async_teardown(role, stream.next_layer(), std::move(*h));
  });
}

}  // namespace confab::stream
