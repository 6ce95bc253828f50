#pragma once

// What every connection of one server shares. Internal to net/.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "net/server.hpp"

namespace confab::net {

namespace beast = boost::beast;
namespace asio = boost::asio;
using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// Live WebSocket connections, so that shutdown can close each with 4000.
class connection_registry {
 public:
  void add(const void* key, std::weak_ptr<api::connection_sink> sink);
  void remove(const void* key);
  // Closes every connection with `code`, then waits until all are gone or the
  // deadline passes.
  void close_all(std::uint16_t code, const std::string& reason, std::chrono::milliseconds deadline);

 private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::unordered_map<const void*, std::weak_ptr<api::connection_sink>> live_;
};

struct shared_state {
  server_settings settings;
  server_handlers handlers;
  std::unique_ptr<asio::ssl::context> tls;  // null: plain
  connection_registry registry;
};
using shared_ptr_t = std::shared_ptr<shared_state>;

// Entry points of http_session.cpp: serve one accepted socket.
void serve_plain(plain_stream stream, shared_ptr_t shared);
void serve_tls(plain_stream stream, shared_ptr_t shared);

}  // namespace confab::net
