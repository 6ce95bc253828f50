#pragma once

// One WebSocket connection: owned by Asio (shared_ptr held by its pending
// operations), running on its strand. Its session actor gets each frame as a
// message; actors reach it only through the weak connection_sink, whose calls
// post onto the strand. Outbound frames are framed here and appended in order
// to the coalescing layer, which writes them in one socket write per batch; a
// backlog over the limit closes the socket with 1008.

#include <atomic>
#include <string_view>

#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <caf/send.hpp>

#include "api/atoms.hpp"
#include "api/metrics.hpp"
#include "net/shared.hpp"
#include "stream/coalescing_stream.hpp"

namespace confab::net {

namespace http = beast::http;
namespace websocket = beast::websocket;

template <class Stream>
class ws_connection : public api::connection_sink, public std::enable_shared_from_this<ws_connection<Stream>> {
 public:
  ws_connection(Stream&& stream, shared_ptr_t shared, std::string remote, connection_limits::slot_ptr slot)
      : ws_(std::move(stream)), shared_(std::move(shared)), remote_(std::move(remote)), slot_(std::move(slot)) {}

  ~ws_connection() override {
    if (accepted_)
      api::node_metrics().ws_connections.fetch_sub(1, std::memory_order_relaxed);
    shared_->registry.remove(this);
    if (session_)
      caf::anon_send(session_, api::closed_atom::value);
  }

  void run(http::request<http::string_body> req) {
    ws_.next_layer().keep_alive(this->weak_from_this());
    ws_.next_layer().track(&held_);
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

  // From the session's thread: one frame fewer waits. Reading resumes once a
  // paused socket's unhandled frames fall to a quarter of the limit.
  void frame_handled() override {
    auto left = unhandled_.fetch_sub(1) - 1;
    if (left <= shared_->settings.max_inbound_frames / 4 && paused_.exchange(false))
      asio::post(ws_.get_executor(), [self = this->shared_from_this()] {
        self->paused_hold_.reset();
        self->do_read();
      });
  }

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
    if (unhandled_.fetch_add(1) + 1 >= shared_->settings.max_inbound_frames) {
      // The session is behind: stop reading. frame_handled() resumes; the
      // check after the pause catches a frame handled in between.
      paused_.store(true);
      api::node_metrics().ws_read_pauses.fetch_add(1, std::memory_order_relaxed);
      if (unhandled_.load() >= shared_->settings.max_inbound_frames || !paused_.exchange(false)) {
        // No read pending: nothing else keeps this connection alive.
        paused_hold_ = this->shared_from_this();
        return;
      }
    }
    do_read();
  }

  // Data frames skip Beast's write operation (which takes one frame at a
  // time): each is framed here and appended whole to the coalescing layer,
  // which Beast's own writes (handshake, control frames, close) also go
  // through, so frames never interleave and keep their order.
  void enqueue(api::shared_text frame) {
    // Nothing after a close, ours or the peer's (Beast answered it).
    if (close_code_ != 0 || !ws_.is_open())
      return;
    auto& layer = ws_.next_layer();
    // A slow consumer is one whose backlog (what waits behind the bytes on
    // the wire) is already over the limit; any single frame, even a large
    // history page, is accepted.
    if (layer.backlog() > shared_->settings.max_outbound) {
      layer.discard_backlog();  // the close goes out right after what is on the wire
      api::node_metrics().slow_consumers.fetch_add(1, std::memory_order_relaxed);
      close_now(1008, "slow consumer");
      return;
    }
    char head[10];
    layer.append(std::string_view(head, text_frame_header(frame->size(), head)), *frame);
  }

  // RFC 6455 section 5.2: FIN and opcode 1 (text), no mask (server to client),
  // then the payload length in 7, 7+16 or 7+64 bits.
  static std::size_t text_frame_header(std::size_t n, char* out) {
    out[0] = static_cast<char>(0x81);
    if (n < 126) {
      out[1] = static_cast<char>(n);
      return 2;
    }
    std::size_t bytes = n < 65536 ? 2 : 8;
    out[1] = static_cast<char>(bytes == 2 ? 126 : 127);
    for (std::size_t i = 0; i < bytes; ++i)
      out[2 + i] = static_cast<char>((n >> (8 * (bytes - 1 - i))) & 0xff);
    return 2 + bytes;
  }

  // Frames already queued go out first, then the close frame.
  void close_now(std::uint16_t code, const std::string& reason) {
    if (close_code_ != 0)
      return;
    close_code_ = code;
    websocket::close_reason cr(static_cast<websocket::close_code>(code), reason);
    ws_.async_close(cr, [self = this->shared_from_this()](beast::error_code) { self->paused_hold_.reset(); });
  }

  websocket::stream<confab::stream::coalescing_stream<Stream>> ws_;
  shared_ptr_t shared_;
  std::string remote_;
  connection_limits::slot_ptr slot_;  // this connection's place under the limits
  caf::actor session_;
  beast::flat_buffer buffer_;
  // Bytes not yet written (in the layer below); atomic so the admin view may
  // read it.
  std::atomic<std::size_t> held_{0};
  // Frames sent to the session and not yet handled; paused_: not reading.
  std::atomic<std::uint32_t> unhandled_{0};
  std::atomic<bool> paused_{false};
  // This connection, while reading is paused (released on the strand when
  // reading resumes or the close completes).
  std::shared_ptr<ws_connection> paused_hold_;
  bool accepted_ = false;
  std::uint16_t close_code_ = 0;
};

}  // namespace confab::net
