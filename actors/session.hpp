#pragma once

// Session actor: one per WebSocket connection, on the node of the socket.
// Owns the connection's auth state and rate limiter; turns request frames into
// actor requests and their answers into reply frames. Reaches its socket only
// through a weak sink: a closed socket is never kept alive by its actor.

#include <map>
#include <set>

#include <caf/stateful_actor.hpp>

#include "actors/context.hpp"
#include "api/interfaces.hpp"
#include "api/messages.hpp"
#include "api/probe.hpp"
#include "api/rate_limits.hpp"
#include "api/sinks.hpp"
#include "storage/users.hpp"

namespace confab::actors {

struct session_state {
  static inline const char* name = "confab.session";

  context_ptr ctx;
  storage::user_store user_db;  // usernames to watch
  api::sink_ptr sink;
  std::string remote;
  api::session_id id;
  bool authed = false;
  api::caller who;
  // The token the session authenticated with: its revocation (a logout, a
  // password change, on any node) or its expiry closes the socket with 4401.
  std::string jti;
  std::int64_t issued_at = 0;
  api::token_bucket bucket;
  // The presence manager told of this session, and for each user it watches
  // (asked, or a direct-room partner) the one that holds the watch: after a
  // membership change, those whose owner changed hear from it again.
  api::presence_service presence_at;
  std::map<api::user_id, api::presence_service> watching;
  // Sends waiting for their room's answer. They are requested without a CAF
  // timeout, because each timeout wakes CAF's clock thread twice (set and
  // cancel), a third of a core at 10k sends/s; a tick every 5 s, only while
  // sends wait, answers the overdue ones with request_timeout. Numbered in
  // order, so the oldest (first due) comes first.
  std::map<std::uint64_t, std::pair<std::int64_t, std::string>> sends_waiting;  // number -> (due ms, request id)
  std::uint64_t sends_made = 0;
  bool send_tick_armed = false;

  // Writes one frame to the socket, if it is still there.
  void write(std::string text) const;
  void reply_ok(const std::string& id_json, const std::string& data_json) const;
  void reply_error(const std::string& id_json, const caf::error& err) const;
  void close(std::uint16_t code, const std::string& reason) const;
};

using session_self = api::probed<session_state, api::session_actor::base>;

api::session_actor::behavior_type session_actor(session_self* self, context_ptr ctx, storage::user_store users,
                                                api::sink_ptr sink, std::string remote);

}  // namespace confab::actors
