#include "net/server.hpp"

#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "api/errors.hpp"
#include "net/shared.hpp"

namespace confab::net {

using tcp = asio::ip::tcp;

void connection_registry::add(const void* key, std::weak_ptr<api::connection_sink> sink) {
  std::lock_guard<std::mutex> guard(mtx_);
  live_.emplace(key, std::move(sink));
}

void connection_registry::remove(const void* key) {
  std::lock_guard<std::mutex> guard(mtx_);
  live_.erase(key);
  if (live_.empty())
    cv_.notify_all();
}

void connection_registry::close_all(std::uint16_t code, const std::string& reason, std::chrono::milliseconds deadline) {
  std::vector<std::shared_ptr<api::connection_sink>> sinks;
  {
    std::lock_guard<std::mutex> guard(mtx_);
    for (auto& [key, weak] : live_)
      if (auto sink = weak.lock())
        sinks.push_back(std::move(sink));
  }
  // Outside the lock: dropping the last reference runs remove().
  for (auto& sink : sinks)
    sink->close(code, reason);
  sinks.clear();
  std::unique_lock<std::mutex> lock(mtx_);
  cv_.wait_for(lock, deadline, [this] { return live_.empty(); });
}

std::pair<connection_limits::slot_ptr, connection_limits::refusal> connection_limits::take(const std::string& address) {
  std::lock_guard<std::mutex> guard(mtx_);
  if (total_ >= max_total_)
    return {nullptr, refusal::node_full};
  auto& mine = per_address_[address];
  if (mine >= max_per_address_)
    return {nullptr, refusal::address_full};
  ++mine;
  ++total_;
  return {std::make_shared<slot>(shared_from_this(), address), refusal::none};
}

void connection_limits::give_back(const std::string& address) {
  std::lock_guard<std::mutex> guard(mtx_);
  --total_;
  if (auto it = per_address_.find(address); it != per_address_.end() && --it->second == 0)
    per_address_.erase(it);
}

namespace {

class server_impl : public server {
 public:
  explicit server_impl(shared_ptr_t shared) : shared_(std::move(shared)), acceptor_(ioc_) {}

  ~server_impl() override { stop(); }

  caf::error listen() {
    auto& s = shared_->settings;
    beast::error_code ec;
    auto address = asio::ip::make_address(s.bind, ec);
    if (ec)
      return api::fail(api::errc::invalid_request, "--bind: not an address: " + s.bind);
    tcp::endpoint ep{address, s.port};
    acceptor_.open(ep.protocol(), ec);
    if (!ec)
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
      acceptor_.bind(ep, ec);
    if (!ec)
      acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return api::fail(api::errc::unavailable,
                       "cannot listen on " + s.bind + ":" + std::to_string(s.port) + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    do_accept();
    for (unsigned i = 0; i < s.threads; ++i)
      threads_.emplace_back([this] { ioc_.run(); });
    return caf::none;
  }

  std::uint16_t port() const override { return port_; }

  void stop() override {
    if (stopped_)
      return;
    stopped_ = true;
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    shared_->registry.close_all(4000, "node shutting down", std::chrono::milliseconds(3000));
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_)
      t.join();
    threads_.clear();
  }

 private:
  void do_accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open())
        return;
      if (ec) {
        // Out of file descriptors and the like: try again shortly, not in a spin.
        retry_.expires_after(std::chrono::milliseconds(100));
        retry_.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec && acceptor_.is_open())
            do_accept();
        });
        return;
      }
      // Writes are already gathered per connection (coalescing_stream), so
      // Nagle's algorithm would only hold replies back for a delayed ACK.
      socket.set_option(tcp::no_delay(true), ec);
      auto peer = socket.remote_endpoint(ec);
      auto [slot, refused] = shared_->limits->take(ec ? std::string("unknown") : peer.address().to_string());
      plain_stream stream(std::move(socket));
      if (shared_->tls)
        serve_tls(std::move(stream), shared_, std::move(slot), refused);
      else
        serve_plain(std::move(stream), shared_, std::move(slot), refused);
      do_accept();
    });
  }

  shared_ptr_t shared_;
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{ioc_.get_executor()};
  tcp::acceptor acceptor_;
  asio::steady_timer retry_{ioc_};
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
};

}  // namespace

caf::expected<std::unique_ptr<server>> server::start(server_settings settings, server_handlers handlers) {
  auto shared = std::make_shared<shared_state>();
  if (!settings.tls_cert.empty()) {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    beast::error_code ec;
    ctx->use_certificate_chain_file(settings.tls_cert, ec);
    if (ec)
      return api::fail(api::errc::invalid_request, "--tls-cert " + settings.tls_cert + ": " + ec.message());
    ctx->use_private_key_file(settings.tls_key, asio::ssl::context::pem, ec);
    if (ec)
      return api::fail(api::errc::invalid_request, "--tls-key " + settings.tls_key + ": " + ec.message());
    shared->tls = std::move(ctx);
  }
  shared->limits = std::make_shared<connection_limits>(settings.max_connections, settings.max_connections_per_ip);
  shared->settings = std::move(settings);
  shared->handlers = std::move(handlers);
  auto srv = std::make_unique<server_impl>(std::move(shared));
  if (auto err = srv->listen())
    return err;
  return std::unique_ptr<server>(std::move(srv));
}

}  // namespace confab::net
