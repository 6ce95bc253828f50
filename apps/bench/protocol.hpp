#pragma once

// What a workload needs from a chat protocol: log in, join a room, send to a
// room or to a partner, fetch history, and what the server's frames mean.
// Confab (PROTOCOL.md) and XMPP over WebSocket (RFC 7395, for ejabberd)
// implement it, so both servers are driven by the same workloads and clock.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "apps/bench/conn.hpp"

namespace confab::bench {

// Called by a protocol as frames arrive.
struct protocol_events {
  virtual ~protocol_events() = default;
  virtual void ready(conn& c) = 0;   // logged in, may join and send
  virtual void joined(conn& c) = 0;  // a join was answered
  // A chat message arrived; seq is 0 where the protocol has none.
  virtual void delivered(conn& c, std::string_view body, std::int64_t seq) = 0;
  virtual void acked(conn& c, std::uint64_t request) = 0;  // a send was made durable
  virtual void history(conn& c, std::size_t messages) = 0;
  virtual void refused(conn& c, std::string_view code) = 0;  // an error answer
};

class protocol {
 public:
  virtual ~protocol() = default;
  [[nodiscard]] virtual std::string path() const = 0;
  [[nodiscard]] virtual std::string subprotocol() const = 0;
  // The socket is open: log in with c.user and c.secret.
  virtual void start(conn& c) = 0;
  virtual void frame(conn& c, std::string_view text) = 0;
  virtual void join(conn& c, const std::string& room) = 0;
  // Returns the request id that acked() will name (0 if the protocol acks nothing).
  virtual std::uint64_t send_room(conn& c, const std::string& room, std::string_view body) = 0;
  virtual std::uint64_t send_direct(conn& c, std::string_view body) = 0;
  // Asks for the last `limit` messages of the room; history() reports the page.
  virtual void fetch_history(conn& c, const std::string& room, int limit) = 0;
  // True if the protocol has no history call this bench can drive.
  [[nodiscard]] virtual bool has_history() const = 0;
};

std::unique_ptr<protocol> make_confab_protocol(protocol_events& events);
std::unique_ptr<protocol> make_xmpp_protocol(protocol_events& events, std::string domain);

}  // namespace confab::bench
