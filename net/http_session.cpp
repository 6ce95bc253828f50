// HTTP on one accepted socket (plain or TLS): reads a request, hands it to
// the frontend actor, writes its answer, and keeps the connection for the
// next request; upgrades /ws to a WebSocket connection.

#include <optional>

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "net/shared.hpp"
#include "net/ws_connection.hpp"
#include "wire/codec.hpp"

namespace confab::net {

namespace {

constexpr auto read_timeout = std::chrono::seconds(30);

std::string remote_of(plain_stream& s) {
  beast::error_code ec;
  auto ep = s.socket().remote_endpoint(ec);
  return ec ? std::string("unknown") : ep.address().to_string();
}

template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
 public:
  http_session(Stream&& stream, shared_ptr_t shared, std::string remote)
      : stream_(std::move(stream)), shared_(std::move(shared)), remote_(std::move(remote)) {}

  void run() {
    if constexpr (std::is_same_v<Stream, tls_stream>) {
      beast::get_lowest_layer(stream_).expires_after(read_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (!ec)
          self->do_read();
      });
    } else {
      do_read();
    }
  }

  void write_reply(api::http_reply r) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), 11);
    res->set(http::field::server, "confab");
    if (!r.body.empty())
      res->set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers)
      res->set(name, value);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    http::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
      self->on_write(ec, res->need_eof());
    });
  }

 private:
  // Answers go back to this connection's strand; the shared_ptr keeps the
  // connection until the frontend has answered.
  class responder : public api::http_responder {
   public:
    explicit responder(std::shared_ptr<http_session> s) : session_(std::move(s)) {}
    void respond(api::http_reply reply) override {
      auto s = std::move(session_);
      if (!s)
        return;
      auto ex = s->stream_.get_executor();
      asio::post(ex, [s = std::move(s), reply = std::move(reply)]() mutable { s->write_reply(std::move(reply)); });
    }

   private:
    std::shared_ptr<http_session> session_;
  };

  void do_read() {
    parser_.emplace();
    parser_->body_limit(shared_->settings.max_http_body);
    parser_->header_limit(16 * 1024);
    beast::get_lowest_layer(stream_).expires_after(read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream)
      return do_shutdown();
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return write_error(413, api::errc::too_large, "request body is over the limit");
    }
    if (ec)
      return;
    auto& req = parser_->get();
    if (websocket::is_upgrade(req)) {
      if (req.target() != "/ws") {
        keep_alive_ = false;
        return write_error(404, api::errc::not_found, "WebSocket is served at /ws");
      }
      std::make_shared<ws_connection<Stream>>(std::move(stream_), shared_, remote_)->run(parser_->release());
      return;
    }
    keep_alive_ = req.keep_alive();
    api::http_call call;
    call.method = std::string(req.method_string());
    call.target = std::string(req.target());
    call.authorization = std::string(req[http::field::authorization]);
    call.remote = remote_;
    call.body = std::move(req.body());
    caf::anon_send(shared_->handlers.http_frontend, api::http_atom::value, std::move(call),
                   api::responder_ptr(std::make_shared<responder>(this->shared_from_this())));
  }

  void write_error(unsigned status, api::errc code, const std::string& message) {
    api::http_reply r;
    r.status = status;
    r.body = wire::http_error({code, message, 0});
    write_reply(std::move(r));
  }

  void on_write(beast::error_code ec, bool close) {
    if (ec)
      return;
    if (close)
      return do_shutdown();
    do_read();
  }

  void do_shutdown() {
    if constexpr (std::is_same_v<Stream, tls_stream>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    }
  }

  Stream stream_;
  shared_ptr_t shared_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
};

}  // namespace

void serve_plain(plain_stream stream, shared_ptr_t shared) {
  auto remote = remote_of(stream);
  std::make_shared<http_session<plain_stream>>(std::move(stream), std::move(shared), std::move(remote))->run();
}

void serve_tls(plain_stream stream, shared_ptr_t shared) {
  auto remote = remote_of(stream);
  auto& ctx = *shared->tls;
  std::make_shared<http_session<tls_stream>>(tls_stream(std::move(stream), ctx), std::move(shared), std::move(remote))
      ->run();
}

}  // namespace confab::net
