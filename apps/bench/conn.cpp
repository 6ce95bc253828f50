#include "apps/bench/conn.hpp"

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/field.hpp>

namespace confab::bench {

namespace websocket = beast::websocket;

conn::conn(asio::io_context& io, std::size_t idx, conn_handler& handler)
    : index(idx), handler_(handler), ws_(io.get_executor()) {}

void conn::open(const asio::ip::address& source, const asio::ip::tcp::endpoint& server, std::string path,
                std::string host, std::string subprotocol) {
  path_ = std::move(path);
  host_ = std::move(host);
  subprotocol_ = std::move(subprotocol);
  ws_.next_layer().keep_alive(weak_from_this());
  auto& sock = beast::get_lowest_layer(ws_).socket();
  beast::error_code ec;
  sock.open(server.protocol(), ec);
  if (!ec)
    sock.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    sock.bind(asio::ip::tcp::endpoint(source, 0), ec);
  if (ec) {
    handler_.on_failed(*this, "bind: " + ec.message());
    return;
  }
  beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(30));
  beast::get_lowest_layer(ws_).async_connect(server, beast::bind_front_handler(&conn::on_connect, shared_from_this()));
}

void conn::on_connect(beast::error_code ec) {
  if (ec)
    return handler_.on_failed(*this, "connect: " + ec.message());
  beast::get_lowest_layer(ws_).socket().set_option(asio::ip::tcp::no_delay(true), ec);
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout opt{std::chrono::seconds(30), websocket::stream_base::none(), false};
  ws_.set_option(opt);
  ws_.read_message_max(16 * 1024 * 1024);
  if (!subprotocol_.empty())
    ws_.set_option(websocket::stream_base::decorator(
        [p = subprotocol_](websocket::request_type& req) { req.set(beast::http::field::sec_websocket_protocol, p); }));
  ws_.async_handshake(host_, path_, beast::bind_front_handler(&conn::on_handshake, shared_from_this()));
}

void conn::on_handshake(beast::error_code ec) {
  if (ec)
    return handler_.on_failed(*this, "websocket handshake: " + ec.message());
  open_ok = true;
  ws_.text(true);
  read();
  handler_.on_open(*this);
}

void conn::read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&conn::on_read, shared_from_this()));
}

void conn::on_read(beast::error_code ec, std::size_t) {
  if (ec) {
    if (open_ok) {
      open_ok = false;
      handler_.on_failed(*this, ec == websocket::error::closed ? "closed by the server" : "read: " + ec.message());
    }
    return;
  }
  auto data = buffer_.cdata();
  handler_.on_frame(*this, std::string_view(static_cast<const char*>(data.data()), data.size()));
  buffer_.consume(buffer_.size());
  read();
}

void conn::send(std::string frame) {
  if (!open_ok)
    return;
  out_.push_back(std::move(frame));
  if (!writing_)
    write();
}

void conn::write() {
  writing_ = true;
  ws_.async_write(asio::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->writing_ = false;
    self->out_.pop_front();
    if (ec) {
      self->out_.clear();
      return;
    }
    if (!self->out_.empty())
      self->write();
  });
}

void conn::close() {
  if (!open_ok)
    return;
  open_ok = false;
  out_.clear();
  ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {});
}

}  // namespace confab::bench
