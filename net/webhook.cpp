#include "net/webhook.hpp"

#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "api/errors.hpp"

namespace confab::net {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto deadline = std::chrono::seconds(10);

// One POST: resolve, connect, write, read; `done` once with the outcome.
class post_op : public std::enable_shared_from_this<post_op> {
 public:
  post_op(asio::io_context& ioc, std::string host, std::string port, std::string target, std::string body,
          std::function<void(bool)> done)
      : resolver_(ioc), stream_(ioc), host_(std::move(host)), port_(std::move(port)), done_(std::move(done)) {
    req_.method(http::verb::post);
    req_.target(target);
    req_.version(11);
    req_.set(http::field::host, host_);
    req_.set(http::field::content_type, "application/json");
    req_.set(http::field::user_agent, "confab-push");
    req_.keep_alive(false);
    req_.body() = std::move(body);
    req_.prepare_payload();
  }

  void run() {
    resolver_.async_resolve(host_, port_, [self = shared_from_this()](beast::error_code ec, auto results) {
      if (ec)
        return self->finish(false);
      self->stream_.expires_after(deadline);
      self->stream_.async_connect(results, [self](beast::error_code ec, auto) {
        if (ec)
          return self->finish(false);
        http::async_write(self->stream_, self->req_, [self](beast::error_code ec, std::size_t) {
          if (ec)
            return self->finish(false);
          http::async_read(self->stream_, self->buffer_, self->res_, [self](beast::error_code ec, std::size_t) {
            self->finish(!ec && self->res_.result_int() / 100 == 2);
          });
        });
      });
    });
  }

 private:
  void finish(bool ok) {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    if (done_)
      std::exchange(done_, nullptr)(ok);
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  std::string host_;
  std::string port_;
  std::function<void(bool)> done_;
  http::request<http::string_body> req_;
  beast::flat_buffer buffer_;
  http::response<http::string_body> res_;
};

class webhook : public api::push_transport {
 public:
  webhook(std::string host, std::string port, std::string target)
      : host_(std::move(host)), port_(std::move(port)), target_(std::move(target)), thread_([this] { ioc_.run(); }) {}

  ~webhook() override {
    work_.reset();
    ioc_.stop();
    thread_.join();
  }

  void post(std::string body, std::function<void(bool)> done) override {
    asio::post(ioc_, [this, body = std::move(body), done = std::move(done)]() mutable {
      std::make_shared<post_op>(ioc_, host_, port_, target_, std::move(body), std::move(done))->run();
    });
  }

 private:
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{ioc_.get_executor()};
  std::string host_;
  std::string port_;
  std::string target_;
  std::thread thread_;
};

}  // namespace

caf::expected<std::shared_ptr<api::push_transport>> make_webhook(const std::string& url) {
  static const std::string scheme = "http://";
  auto bad = [&] { return api::fail(api::errc::invalid_request, "--push-webhook: not an http:// URL: " + url); };
  if (url.rfind(scheme, 0) != 0)
    return bad();
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  std::string target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  std::string host = authority.substr(0, colon);
  std::string port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  if (host.empty() || port.empty() || port.find_first_not_of("0123456789") != std::string::npos)
    return bad();
  return std::shared_ptr<api::push_transport>(std::make_shared<webhook>(host, port, target));
}

}  // namespace confab::net
