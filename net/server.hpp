#pragma once

// The client port: HTTP API, WebSocket /ws, TLS. Runs its own io_context
// threads; hands HTTP calls to the frontend actor and each WebSocket to a new
// session actor. Knows actors only by handle.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <caf/actor.hpp>
#include <caf/expected.hpp>

#include "api/interfaces.hpp"
#include "api/sinks.hpp"

namespace confab::net {

struct server_settings {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 8080;
  unsigned threads = 1;
  std::string tls_cert;  // PEM files; both empty: plain HTTP
  std::string tls_key;
  std::size_t max_frame = 64 * 1024;
  std::size_t max_http_body = 1024 * 1024;
  std::size_t max_outbound = 4 * 1024 * 1024;
  // Inbound frames of one socket its session has not handled yet, before
  // the socket stops reading (resumes at a quarter of it).
  std::uint32_t max_inbound_frames = 64;
  std::uint64_t max_file_size = 25 * 1024 * 1024;
  // Open client connections: beyond the first, new ones get 503; beyond the
  // second from one address, 429 (PROTOCOL.md section 1).
  std::size_t max_connections = 18000;
  std::size_t max_connections_per_ip = 2000;
};

struct server_handlers {
  api::http_service http_frontend;
  // Spawns the session actor of a new WebSocket connection.
  std::function<caf::actor(api::sink_ptr sink, std::string remote)> spawn_session;
  // Whether a bearer token is the admin token, or an access token signed by
  // this cluster and not expired (no revocation lookup: the frontend does
  // that). A request with a long body whose token fails it is as tokenless,
  // so it gets little body. Empty: every token passes.
  std::function<bool(std::string_view token)> token_signed;
};

class server {
 public:
  // Binds and starts serving; fails (as a value) when the address can't be
  // bound or the TLS files can't be loaded.
  [[nodiscard]] static caf::expected<std::unique_ptr<server>> start(server_settings settings, server_handlers handlers);
  virtual ~server() = default;
  // The bound port (useful with port 0).
  [[nodiscard]] virtual std::uint16_t port() const = 0;
  // Stops accepting, closes every WebSocket with 4000, waits (bounded) for the
  // connections to go, then stops the threads.
  virtual void stop() = 0;
};

}  // namespace confab::net
