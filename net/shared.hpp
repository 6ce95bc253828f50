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

// Open client connections, per node and per address: each accepted socket
// holds a slot (HTTP, then its WebSocket) until it closes. Any Asio thread.
class connection_limits : public std::enable_shared_from_this<connection_limits> {
 public:
  // Gives its place back when the last holder lets go.
  class slot {
   public:
    slot(std::shared_ptr<connection_limits> limits, std::string address)
        : limits_(std::move(limits)), address_(std::move(address)) {}
    ~slot() { limits_->give_back(address_); }
    slot(const slot&) = delete;
    slot& operator=(const slot&) = delete;

   private:
    std::shared_ptr<connection_limits> limits_;
    std::string address_;
  };
  using slot_ptr = std::shared_ptr<slot>;
  // Why a connection got no slot; none: it got one.
  enum class refusal { none, node_full, address_full };

  connection_limits(std::size_t max_total, std::size_t max_per_address)
      : max_total_(max_total), max_per_address_(max_per_address) {}
  [[nodiscard]] std::pair<slot_ptr, refusal> take(const std::string& address);

 private:
  void give_back(const std::string& address);

  std::mutex mtx_;
  const std::size_t max_total_;
  const std::size_t max_per_address_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> per_address_;
};

struct shared_state {
  server_settings settings;
  server_handlers handlers;
  std::unique_ptr<asio::ssl::context> tls;  // null: plain
  connection_registry registry;
  std::shared_ptr<connection_limits> limits;
};
using shared_ptr_t = std::shared_ptr<shared_state>;

// Entry points of http_session.cpp: serve one accepted socket, which holds
// `slot`; one refused by the limits gets its error answer and is closed.
void serve_plain(plain_stream stream, shared_ptr_t shared, connection_limits::slot_ptr slot,
                 connection_limits::refusal refused);
void serve_tls(plain_stream stream, shared_ptr_t shared, connection_limits::slot_ptr slot,
               connection_limits::refusal refused);

}  // namespace confab::net
