// HTTP on one accepted socket (plain or TLS): reads a request's header, then
// either its body (to hand the whole call to the frontend actor), or, for a
// file upload, streams the body to an uploader actor one chunk at a time;
// writes the answer (streaming file downloads), and keeps the connection for
// the next request. Upgrades /ws to a WebSocket connection.

#include <atomic>
#include <optional>
#include <random>

#include <spdlog/spdlog.h>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "net/shared.hpp"
#include "net/ws_connection.hpp"
#include "wire/codec.hpp"

namespace confab::net {

namespace {

constexpr auto read_timeout = std::chrono::seconds(30);
// A request without a token may send this much body to a route that needs
// one; more is refused with 401 before it is read (PROTOCOL.md section 10).
constexpr std::size_t unauthenticated_body = 64 * 1024;
constexpr std::size_t upload_chunk = api::file_info::chunk_size;

// The client's address and port ("unknown" if the socket is already gone).
std::string peer_of(plain_stream& s) {
  beast::error_code ec;
  auto ep = s.socket().remote_endpoint(ec);
  return ec ? std::string("unknown") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

// Without the port: what per-address limits count.
std::string address_of(const std::string& peer) {
  auto colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

// Request ids for the logs: a random start per process, then counting, so
// ids never repeat within a run and cost nothing to make.
std::string next_request_id() {
  static std::atomic<std::uint64_t> next{std::random_device{}() * 0x9e3779b97f4a7c15ull};
  auto v = next.fetch_add(1, std::memory_order_relaxed);
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Register and login are the routes a caller without a token may use.
bool needs_token(std::string_view target) {
  auto path = target.substr(0, target.find('?'));
  return path != "/api/v1/register" && path != "/api/v1/login";
}

// POST /api/v1/rooms/{room}/files[/][?...]: streamed, not read whole.
bool is_upload_target(http::verb method, std::string_view target) {
  constexpr std::string_view prefix = "/api/v1/rooms/";
  auto path = target.substr(0, target.find('?'));
  if (method != http::verb::post || !path.starts_with(prefix))
    return false;
  path.remove_prefix(prefix.size());
  if (path.ends_with('/'))
    path.remove_suffix(1);
  auto slash = path.find('/');
  return slash != std::string_view::npos && slash > 0 && path.substr(slash) == "/files";
}

template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
 public:
  http_session(Stream&& stream, shared_ptr_t shared, std::string peer, connection_limits::slot_ptr slot,
               connection_limits::refusal refused)
      : stream_(std::move(stream)),
        shared_(std::move(shared)),
        peer_(std::move(peer)),
        remote_(address_of(peer_)),
        slot_(std::move(slot)),
        refused_(refused) {
    api::node_metrics().http_connections.fetch_add(1, std::memory_order_relaxed);
  }

  ~http_session() {
    api::node_metrics().http_connections.fetch_sub(1, std::memory_order_relaxed);
    abort_upload();
  }

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
    log_access(r.status);
    beast::get_lowest_layer(stream_).expires_after(read_timeout);
    if (head_)
      return write_head(std::move(r));
    if (r.source)
      return write_streamed(std::move(r));
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), 11);
    set_headers(*res, r);
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    http::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
      self->on_write(ec, res->need_eof());
    });
  }

  void on_proceed(caf::actor uploader) {
    uploader_ = std::move(uploader);
    beast::get_lowest_layer(stream_).expires_after(read_timeout);
    chunk_.resize(upload_chunk);
    fill_ = 0;
    if (upload_->get()[http::field::expect] == "100-continue") {
      auto res = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
        if (ec)
          return self->abort_upload();
        self->read_body_piece();
      });
      return;
    }
    read_body_piece();
  }

  void on_chunk_ack(bool ok, bool last) {
    if (!ok) {
      keep_alive_ = false;  // the rest of the body stays unread
      return finish_upload();
    }
    if (last)
      return finish_upload();
    read_body_piece();
  }

 private:
  // Answers go back to this connection's strand; the shared_ptr keeps the
  // connection until the frontend (or the uploader) has answered.
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
    void proceed(caf::actor uploader) override {
      auto s = std::move(session_);
      if (!s)
        return;
      auto ex = s->stream_.get_executor();
      asio::post(ex,
                 [s = std::move(s), uploader = std::move(uploader)]() mutable { s->on_proceed(std::move(uploader)); });
    }

   private:
    std::shared_ptr<http_session> session_;
  };

  class ack : public api::chunk_ack {
   public:
    ack(std::shared_ptr<http_session> s, bool last) : session_(std::move(s)), last_(last) {}
    void done(bool ok) override {
      auto s = std::move(session_);
      if (!s)
        return;
      auto ex = s->stream_.get_executor();
      asio::post(ex, [s = std::move(s), ok, last = last_] { s->on_chunk_ack(ok, last); });
    }

   private:
    std::shared_ptr<http_session> session_;
    bool last_;
  };

  // HEAD: the GET answer's status and headers, its length, no body (a
  // streamed body is never asked for).
  void write_head(api::http_reply r) {
    auto res = std::make_shared<http::response<http::empty_body>>(static_cast<http::status>(r.status), 11);
    set_headers(*res, r);
    res->keep_alive(keep_alive_);
    res->content_length(r.source ? r.length : r.body.size());
    http::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
      self->on_write(ec, res->need_eof());
    });
  }

  template <class Response>
  void set_headers(Response& res, const api::http_reply& r) {
    res.set(http::field::server, "confab");
    if constexpr (std::is_same_v<Stream, tls_stream>)
      res.set(http::field::strict_transport_security, "max-age=31536000");
    if (!r.content_type.empty() && (!r.body.empty() || r.source))
      res.set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers)
      res.set(name, value);
  }

  // A body from a source, piece by piece: the serializer writes each piece
  // and asks for the next (need_buffer) until the source ends.
  void write_streamed(api::http_reply r) {
    auto res = std::make_shared<http::response<http::buffer_body>>(static_cast<http::status>(r.status), 11);
    set_headers(*res, r);
    res->keep_alive(keep_alive_);
    res->content_length(r.length);
    res->body().data = nullptr;
    res->body().more = true;
    auto sr = std::make_shared<http::response_serializer<http::buffer_body>>(*res);
    http::async_write_header(
        stream_, *sr, [self = this->shared_from_this(), res, sr, src = r.source](beast::error_code ec, std::size_t) {
          if (ec)
            return;
          self->write_piece(res, sr, src);
        });
  }

  // Asks the source for the next piece; it arrives on any thread.
  void write_piece(std::shared_ptr<http::response<http::buffer_body>> res,
                   std::shared_ptr<http::response_serializer<http::buffer_body>> sr,
                   std::shared_ptr<api::body_source> src) {
    beast::get_lowest_layer(stream_).expires_after(read_timeout);
    src->next([self = this->shared_from_this(), res, sr, src](std::string bytes) {
      auto ex = self->stream_.get_executor();
      asio::post(ex, [self, res, sr, src, bytes = std::move(bytes)]() mutable {
        self->write_bytes(res, sr, src, std::make_shared<std::string>(std::move(bytes)));
      });
    });
  }

  void write_bytes(std::shared_ptr<http::response<http::buffer_body>> res,
                   std::shared_ptr<http::response_serializer<http::buffer_body>> sr,
                   std::shared_ptr<api::body_source> src, std::shared_ptr<std::string> piece) {
    res->body().data = piece->empty() ? nullptr : piece->data();
    res->body().size = piece->size();
    res->body().more = !piece->empty();
    beast::get_lowest_layer(stream_).expires_after(read_timeout);
    http::async_write(stream_, *sr,
                      [self = this->shared_from_this(), res, sr, src, piece](beast::error_code ec, std::size_t) {
                        if (ec == http::error::need_buffer)
                          return self->write_piece(res, sr, src);
                        self->on_write(ec, res->need_eof());
                      });
  }

  void do_read() {
    header_.emplace();
    header_->header_limit(16 * 1024);
    header_->body_limit(boost::none);  // each body parser below sets its own
    beast::get_lowest_layer(stream_).expires_after(read_timeout);
    http::async_read_header(stream_, buffer_, *header_,
                            beast::bind_front_handler(&http_session::on_header, this->shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream)
      return do_shutdown();
    if (ec)
      return;
    auto& req = header_->get();
    request_id_ = next_request_id();
    method_ = std::string(req.method_string());
    head_ = req.method() == http::verb::head;
    // The path only: a query string is the client's business.
    target_ = std::string(req.target().substr(0, req.target().find('?')));
    started_ = std::chrono::steady_clock::now();
    if (refused_ != connection_limits::refusal::none)
      return refuse();
    if (websocket::is_upgrade(req)) {
      if (req.target() != "/ws") {
        keep_alive_ = false;
        return write_error(404, api::errc::not_found, "WebSocket is served at /ws");
      }
      http::request<http::string_body> upgrade(std::move(header_->release().base()));
      spdlog::debug("req={} {} upgrades to a WebSocket", request_id_, peer_);
      std::make_shared<ws_connection<Stream>>(std::move(stream_), shared_, peer_, std::move(slot_))
          ->run(std::move(upgrade));
      return;
    }
    if (is_upload_target(req.method(), req.target()))
      return start_upload();
    body_.emplace(std::move(*header_));
    // Without a valid token, a route that needs one gets little body: the
    // frontend would refuse it unread anyway. The token's signature is only
    // worth checking here (the frontend checks it again) when the body may be
    // longer than that.
    auto declared = body_->content_length();
    auto little = std::min(unauthenticated_body, shared_->settings.max_http_body);
    bool large = body_->chunked() || (declared && *declared > little);
    auto auth = body_->get()[http::field::authorization];
    tokenless_ = needs_token(body_->get().target()) && !(large ? signed_bearer(auth) : auth.starts_with("Bearer "));
    auto limit = tokenless_ ? little : shared_->settings.max_http_body;
    // A limit set after the header is only applied to chunked bodies by
    // Beast: a declared length is checked here.
    body_->body_limit(limit);
    if (declared && *declared > limit) {
      keep_alive_ = false;
      return body_refused();
    }
    http::async_read(stream_, buffer_, *body_,
                     beast::bind_front_handler(&http_session::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return body_refused();
    }
    if (ec)
      return;
    auto& req = body_->get();
    keep_alive_ = req.keep_alive();
    auto call = make_call(req);
    call.body = std::move(req.body());
    caf::anon_send(shared_->handlers.http_frontend, api::http_atom::value, std::move(call),
                   api::responder_ptr(std::make_shared<responder>(this->shared_from_this())));
  }

  template <class Request>
  api::http_call make_call(const Request& req) {
    api::http_call call;
    // Every GET route answers HEAD: the frontend sees a GET, the answer
    // goes out without its body (write_head).
    call.method = head_ ? std::string("GET") : std::string(req.method_string());
    call.target = std::string(req.target());
    call.authorization = std::string(req[http::field::authorization]);
    call.remote = remote_;
    call.request_id = request_id_;
    call.range = std::string(req[http::field::range]);
    call.if_none_match = std::string(req[http::field::if_none_match]);
    call.filename = std::string(req["X-Filename"]);
    call.encrypted = std::string(req["X-Encrypted"]);
    call.content_type = std::string(req[http::field::content_type]);
    return call;
  }

  // A bearer token this cluster signed and that has not expired.
  bool signed_bearer(std::string_view auth) const {
    constexpr std::string_view scheme = "Bearer ";
    if (!auth.starts_with(scheme))
      return false;
    auto& check = shared_->handlers.token_signed;
    return !check || check(auth.substr(scheme.size()));
  }

  // The frontend decides from the header; the body is read only if it allows.
  void start_upload() {
    upload_.emplace(std::move(*header_));
    upload_->body_limit(shared_->settings.max_file_size);
    auto& req = upload_->get();
    body_keep_alive_ = req.keep_alive();
    keep_alive_ = false;  // until the whole body has been read
    auto call = make_call(req);
    call.is_upload = true;
    if (auto len = upload_->content_length()) {
      call.has_content_length = true;
      call.content_length = *len;
    }
    caf::anon_send(shared_->handlers.http_frontend, api::http_atom::value, std::move(call),
                   api::responder_ptr(std::make_shared<responder>(this->shared_from_this())));
  }

  void read_body_piece() {
    if (upload_->is_done())
      return send_chunk(true);
    auto& body = upload_->get().body();
    body.data = chunk_.data() + fill_;
    body.size = chunk_.size() - fill_;
    beast::get_lowest_layer(stream_).expires_after(read_timeout);
    http::async_read_some(stream_, buffer_, *upload_,
                          beast::bind_front_handler(&http_session::on_body_piece, this->shared_from_this()));
  }

  void on_body_piece(beast::error_code ec, std::size_t) {
    if (ec == http::error::need_buffer)
      ec = {};
    if (ec == http::error::body_limit) {
      abort_upload();
      return write_error(413, api::errc::too_large, "file is over the limit");
    }
    if (ec)
      return abort_upload();
    fill_ = chunk_.size() - upload_->get().body().size;
    if (upload_->is_done())
      return send_chunk(true);
    if (fill_ == chunk_.size())
      return send_chunk(false);
    read_body_piece();
  }

  // One chunk in flight: the next is read after the uploader's ack.
  void send_chunk(bool last) {
    if (fill_ == 0 && last)
      return finish_upload();
    std::string bytes(chunk_.data(), fill_);
    fill_ = 0;
    caf::anon_send(uploader_, api::chunk_atom::value, std::move(bytes),
                   api::chunk_ack_ptr(std::make_shared<ack>(this->shared_from_this(), last)));
  }

  void finish_upload() {
    if (upload_ && upload_->is_done())
      keep_alive_ = body_keep_alive_;
    caf::anon_send(uploader_, api::finish_atom::value,
                   api::responder_ptr(std::make_shared<responder>(this->shared_from_this())));
    uploader_ = nullptr;
  }

  void abort_upload() {
    if (uploader_)
      caf::anon_send(uploader_, api::abort_atom::value);
    uploader_ = nullptr;
  }

  void write_error(unsigned status, api::errc code, const std::string& message, std::uint64_t retry_after_ms = 0) {
    api::node_metrics().error(code);
    api::http_reply r;
    r.status = status;
    r.body = wire::http_error({code, message, retry_after_ms});
    write_reply(std::move(r));
  }

  // A body over the limit is not read: 401 when the caller has no token (it
  // could not have been served), else 413; the connection closes.
  void body_refused() {
    if (tokenless_)
      return write_error(401, api::errc::unauthorized, "a token is needed before a body of this size");
    write_error(413, api::errc::too_large, "request body is over the limit");
  }

  // Over a connection limit: the first request gets the error, then the
  // connection closes (PROTOCOL.md section 1).
  void refuse() {
    keep_alive_ = false;
    if (refused_ == connection_limits::refusal::node_full) {
      api::node_metrics().refused_node_full.fetch_add(1, std::memory_order_relaxed);
      return write_error(503, api::errc::unavailable, "this node has too many open connections", 1000);
    }
    api::node_metrics().refused_address_full.fetch_add(1, std::memory_order_relaxed);
    write_error(429, api::errc::rate_limited, "too many open connections from this address", 1000);
  }

  // One line per answer. Never the query, headers or body: they may hold
  // passwords, tokens or messages.
  void log_access(unsigned status) {
    if (!spdlog::should_log(spdlog::level::info))
      return;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started_);
    spdlog::info("req={} {} {} {} {} {:.1f}ms", request_id_, peer_, method_, target_, status, us.count() / 1000.0);
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
  std::string peer_;    // address:port
  std::string remote_;  // address
  std::string request_id_;
  std::string method_;
  std::string target_;
  std::chrono::steady_clock::time_point started_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> header_;
  std::optional<http::request_parser<http::string_body>> body_;
  std::optional<http::request_parser<http::buffer_body>> upload_;
  bool keep_alive_ = true;
  bool body_keep_alive_ = true;
  bool head_ = false;       // this request is a HEAD
  bool tokenless_ = false;  // ... has no bearer token and needs one
  connection_limits::slot_ptr slot_;
  connection_limits::refusal refused_;
  caf::actor uploader_;
  std::vector<char> chunk_;
  std::size_t fill_ = 0;
};

}  // namespace

void serve_plain(plain_stream stream, shared_ptr_t shared, connection_limits::slot_ptr slot,
                 connection_limits::refusal refused) {
  auto remote = peer_of(stream);
  std::make_shared<http_session<plain_stream>>(std::move(stream), std::move(shared), std::move(remote), std::move(slot),
                                               refused)
      ->run();
}

void serve_tls(plain_stream stream, shared_ptr_t shared, connection_limits::slot_ptr slot,
               connection_limits::refusal refused) {
  auto remote = peer_of(stream);
  auto& ctx = *shared->tls;
  std::make_shared<http_session<tls_stream>>(tls_stream(std::move(stream), ctx), std::move(shared), std::move(remote),
                                             std::move(slot), refused)
      ->run();
}

}  // namespace confab::net
