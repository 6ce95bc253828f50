#pragma once

// One WebSocket connection: owned by Asio (shared_ptr held by its pending
// operations), running on its strand. Its session actor gets each frame as a
// message; actors reach it only through the weak connection_sink, whose calls
// post onto the strand. Outbound frames queue here and are written in order,
// gathered by the coalescing layer into one socket write per batch; a backlog
// over the limit closes the socket with 1008.

#include <atomic>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <caf/send.hpp>

#include "actors/api/atoms.hpp"
#include "actors/api/metrics.hpp"
#include "net/coalescing_stream.hpp"
#include "net/shared.hpp"

namespace confab::net {

namespace http = beast::http;
namespace websocket = beast::websocket;

template <class Stream>
class ws_connection : public api::connection_sink, public std::enable_shared_from_this<ws_connection<Stream>> {
 public:
  ws_connection(Stream&& stream, shared_ptr_t shared, std::string remote)
      : ws_(std::move(stream)), shared_(std::move(shared)), remote_(std::move(remote)) {}

  ~ws_connection() override {
    if (accepted_)
      api::node_metrics().ws_connections.fetch_sub(1, std::memory_order_relaxed);
    shared_->registry.remove(this);
    if (session_)
      caf::anon_send(session_, api::closed_atom::value);
  }

  void run(http::request<http::string_body> req) {
    ws_.next_layer().keep_alive(this->weak_from_this());
    beast::get_lowest_layer(ws_).expires_never();
    auto opt = websocket::stream_base::timeout::suggested(beast::role_type::server);
    // Pings at half the idle time detect a peer that vanished without a close.
    opt.idle_timeout = std::chrono::seconds(20);
    opt.keep_alive_pings = true;
    ws_.set_option(opt);
    ws_.read_message_max(shared_->settings.max_frame);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "confab"); }));
    ws_.async_accept(req, beast::bind_front_handler(&ws_connection::on_accept, this->shared_from_this()));
  }

  void send_text(api::shared_text frame) override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this(), frame = std::move(frame)]() mutable {
      self->enqueue(std::move(frame));
    });
  }

  void close(std::uint16_t code, std::string reason) override {
    asio::post(ws_.get_executor(),
               [self = this->shared_from_this(), code, reason = std::move(reason)] { self->close_now(code, reason); });
  }

  std::size_t queued_bytes() const override { return held_.load(std::memory_order_relaxed); }

 private:
  void on_accept(beast::error_code ec) {
    if (ec)
      return;
    accepted_ = true;
    api::node_metrics().ws_connections.fetch_add(1, std::memory_order_relaxed);
    std::weak_ptr<api::connection_sink> sink = this->weak_from_this();
    shared_->registry.add(this, sink);
    session_ = shared_->handlers.spawn_session(sink, remote_);
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&ws_connection::on_read, this->shared_from_this()));
  }

  // Errors end the connection; Beast has already answered a frame over the
  // limit with 1009 and invalid UTF-8 with 1007.
  void on_read(beast::error_code ec, std::size_t) {
    if (ec)
      return;
    if (close_code_ != 0) {
      buffer_.consume(buffer_.size());
      return do_read();
    }
    if (!ws_.got_text()) {
      close_now(1007, "binary frames are not accepted");
      return do_read();
    }
    caf::anon_send(session_, api::frame_atom::value, beast::buffers_to_string(buffer_.data()));
    buffer_.consume(buffer_.size());
    do_read();
  }

  void enqueue(api::shared_text frame) {
    if (close_code_ != 0)
      return;
    // A slow consumer is one whose backlog (what waits behind the bytes on
    // the wire) is already over the limit; any single frame, even a large
    // history page, is accepted.
    if (queued_ + ws_.next_layer().backlog() > shared_->settings.max_outbound) {
      // Keep only the frame being written; the close goes out after it.
      queue_.erase(queue_.begin() + (writing_ ? 1 : 0), queue_.end());
      queued_ = writing_ ? queue_.front()->size() : 0;
      api::node_metrics().slow_consumers.fetch_add(1, std::memory_order_relaxed);
      close_now(1008, "slow consumer");
      return;
    }
    queued_ += frame->size();
    queue_.push_back(std::move(frame));
    note_held();
    if (!writing_)
      do_write();
  }

  void note_held() { held_.store(queued_ + ws_.next_layer().held(), std::memory_order_relaxed); }

  void do_write() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(*queue_.front()),
                    beast::bind_front_handler(&ws_connection::on_write, this->shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) {
      queue_.clear();
      return;
    }
    queued_ -= queue_.front()->size();
    queue_.erase(queue_.begin());
    note_held();
    if (!queue_.empty())
      return do_write();
    if (close_code_ != 0 && !close_sent_)
      send_close();
  }

  // Frames already queued go out first, then the close frame.
  void close_now(std::uint16_t code, const std::string& reason) {
    if (close_code_ != 0)
      return;
    close_code_ = code;
    close_reason_ = reason;
    if (!writing_)
      send_close();
  }

  void send_close() {
    close_sent_ = true;
    websocket::close_reason cr(static_cast<websocket::close_code>(close_code_), close_reason_);
    ws_.async_close(cr, [self = this->shared_from_this()](beast::error_code) {});
  }

  websocket::stream<coalescing_stream<Stream>> ws_;
  shared_ptr_t shared_;
  std::string remote_;
  caf::actor session_;
  beast::flat_buffer buffer_;
  // Frames waiting for Beast's write of the one before (it completes as soon
  // as the layer below has copied it, so this stays short). A vector: an
  // empty std::deque already holds over 500 bytes.
  std::vector<api::shared_text> queue_;
  std::size_t queued_ = 0;  // bytes in queue_
  // Bytes not yet written, here and in the layer below; atomic so the admin
  // view may read it.
  std::atomic<std::size_t> held_{0};
  bool accepted_ = false;
  bool writing_ = false;
  std::uint16_t close_code_ = 0;
  std::string close_reason_;
  bool close_sent_ = false;
};

}  // namespace confab::net
