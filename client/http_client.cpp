#include "client/http_client.hpp"

#include <openssl/ssl.h>

#include <exception>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace confab::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// Admin answers are small; the cap only stops a wrong server from filling memory.
constexpr std::uint64_t max_answer_bytes = 64ull << 20;

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

[[nodiscard]] std::string describe(const beast::error_code& ec, std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) {
    auto ms = timeout.count();
    return "timed out after " + (ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms");
  }
  return ec.message();
}

[[nodiscard]] http::request<http::string_body> make_request(const base_url& url, const http_request& r) {
  http::request<http::string_body> req;
  req.method_string(r.method);
  req.target(r.target);
  req.version(11);
  // an IPv6 literal goes back into brackets, as in the URL
  const bool v6 = url.host.find(':') != std::string::npos;
  req.set(http::field::host, (v6 ? "[" + url.host + "]" : url.host) + ":" + url.port);
  req.set(http::field::user_agent, "confab-client");
  req.set(http::field::accept, "application/json");
  req.set(http::field::connection, "close");
  if (!r.bearer.empty())
    req.set(http::field::authorization, "Bearer " + r.bearer);
  if (!r.body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = r.body;
  }
  req.prepare_payload();
  return req;
}

// Connects the lowest layer of `stream` to the first address that answers.
template <class Stream>
asio::awaitable<bool> connect(Stream& stream, const base_url& url, const http_options& o, http_outcome& out) {
  tcp::resolver resolver(co_await asio::this_coro::executor);
  auto [rec, endpoints] = co_await resolver.async_resolve(url.host, url.port, tuple_awaitable);
  if (rec) {
    out = {std::nullopt, failure_stage::connect, rec.message()};
    co_return false;
  }
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(o.timeout);
  auto [cec, endpoint] = co_await tcp_layer.async_connect(endpoints, tuple_awaitable);
  if (cec) {
    out = {std::nullopt, failure_stage::connect, describe(cec, o.timeout)};
    co_return false;
  }
  co_return true;
}

template <class Stream>
asio::awaitable<void> exchange(Stream& stream, const http::request<http::string_body>& req, const http_options& o,
                               http_outcome& out) {
  beast::get_lowest_layer(stream).expires_after(o.timeout);
  auto [wec, written] = co_await http::async_write(stream, req, tuple_awaitable);
  if (wec) {
    out = {std::nullopt, failure_stage::exchange, describe(wec, o.timeout)};
    co_return;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_answer_bytes);
  auto [rec, read] = co_await http::async_read(stream, buffer, parser, tuple_awaitable);
  if (rec) {
    out = {std::nullopt, failure_stage::exchange, describe(rec, o.timeout)};
    co_return;
  }
  auto res = parser.release();
  out = {http_result{res.result_int(), std::move(res.body())}, failure_stage::none, {}};
}

asio::awaitable<void> plain_request(base_url url, http_request r, http_options o, http_outcome& out) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  if (!co_await connect(stream, url, o, out))
    co_return;
  co_await exchange(stream, make_request(url, r), o, out);
  beast::error_code ignored;  // the answer is complete; how the socket ends does not matter
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

asio::awaitable<void> tls_request(base_url url, http_request r, http_options o, http_outcome& out, ssl::context& ctx) {
  beast::ssl_stream<beast::tcp_stream> stream(co_await asio::this_coro::executor, ctx);
  // SNI, so that a node serving several names picks the right certificate
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
    out = {std::nullopt, failure_stage::connect, "cannot set the TLS server name"};
    co_return;
  }
  stream.set_verify_callback(ssl::host_name_verification(url.host));
  if (!co_await connect(stream, url, o, out))
    co_return;
  beast::get_lowest_layer(stream).expires_after(o.timeout);
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, tuple_awaitable);
  if (hec) {
    out = {std::nullopt, failure_stage::connect, "TLS handshake failed: " + describe(hec, o.timeout)};
    co_return;
  }
  co_await exchange(stream, make_request(url, r), o, out);
  // close_notify is a courtesy to the server; its failure changes nothing here
  beast::get_lowest_layer(stream).expires_after(o.timeout);
  co_await stream.async_shutdown(tuple_awaitable);
}

[[nodiscard]] http_outcome run(const base_url& url, const http_request& request, const http_options& options) {
  asio::io_context ioc(1);
  http_outcome out{std::nullopt, failure_stage::exchange, "no answer"};
  std::exception_ptr failed;
  auto on_done = [&failed](std::exception_ptr e) { failed = std::move(e); };
  if (!url.tls) {
    asio::co_spawn(ioc, plain_request(url, request, options, out), on_done);
    ioc.run();
  } else {
    ssl::context ctx(ssl::context::tls_client);
    beast::error_code ec;
    ctx.set_verify_mode(ssl::verify_peer, ec);
    if (!ec) {
      if (options.ca_file.empty())
        ctx.set_default_verify_paths(ec);
      else
        ctx.load_verify_file(options.ca_file, ec);
    }
    if (ec)
      return {std::nullopt, failure_stage::connect, "TLS set-up failed: " + ec.message()};
    asio::co_spawn(ioc, tls_request(url, request, options, out, ctx), on_done);
    ioc.run();
  }
  if (failed)
    std::rethrow_exception(failed);
  return out;
}

}  // namespace

http_outcome perform(const base_url& url, const http_request& request, const http_options& options) {
  try {
    return run(url, request, options);
  } catch (const std::exception& e) {
    return {std::nullopt, failure_stage::exchange, e.what()};
  }
}

}  // namespace confab::client
