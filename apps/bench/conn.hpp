#pragma once

// One benchmark client connection: a WebSocket over TCP from a chosen
// loopback source address, run on the bench's single io_context. Outbound
// frames go through the same coalescing layer as the server's, so the client
// spends one syscall per batch too. What the frames mean is the protocol's
// business (protocol.hpp); this only moves them.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "stream/coalescing_stream.hpp"

namespace confab::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;

struct conn_handler;

class conn : public std::enable_shared_from_this<conn> {
 public:
  conn(asio::io_context& io, std::size_t index, conn_handler& handler);

  // Connects from `source` to `server`, then upgrades to WebSocket on `path`
  // (with Sec-WebSocket-Protocol `subprotocol` when not empty).
  void open(const asio::ip::address& source, const asio::ip::tcp::endpoint& server, std::string path, std::string host,
            std::string subprotocol);
  void send(std::string frame);
  void close();

  std::size_t index;
  // Per-connection protocol and workload state.
  std::string user;
  std::string secret;  // token or password
  std::uint64_t next_id = 1;
  int stage = 0;
  std::vector<std::string> rooms;  // room ids (Confab) or room JIDs (XMPP)
  std::string peer;                // dm partner: room id or JID
  std::int64_t sent_ns = 0;        // when the outstanding request went out
  bool open_ok = false;

 private:
  void on_connect(beast::error_code ec);
  void on_handshake(beast::error_code ec);
  void read();
  void on_read(beast::error_code ec, std::size_t);
  void write();

  conn_handler& handler_;
  beast::websocket::stream<confab::stream::coalescing_stream<beast::tcp_stream>> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> out_;
  bool writing_ = false;
  std::string path_;
  std::string host_;
  std::string subprotocol_;
};
using conn_ptr = std::shared_ptr<conn>;

// What a connection reports: open (handshake done), each frame, and its end.
struct conn_handler {
  virtual ~conn_handler() = default;
  virtual void on_open(conn& c) = 0;
  virtual void on_frame(conn& c, std::string_view frame) = 0;
  virtual void on_failed(conn& c, std::string_view what) = 0;
};

}  // namespace confab::bench
