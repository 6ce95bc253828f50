#pragma once

// Presence actor: one per user with open sessions or watchers, on the owner
// node of the user id; activated by the presence manager. Counts the user's
// sessions (monitoring each), keeps the status the user set, persists
// last_seen when the last session ends, and sends each status change once to
// the sessions that watch the user. Notifications for the user pass here:
// online, they go to the user's sessions; offline, to the push webhook.

#include <unordered_map>
#include <unordered_set>

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/context.hpp"
#include "api/interfaces.hpp"
#include "api/probe.hpp"
#include "api/sinks.hpp"
#include "storage/users.hpp"

namespace confab::actors {

struct presence_state {
  static inline const char* name = "confab.presence";

  context_ptr ctx;
  storage::user_store user_db;  // last seen
  api::user_id user;
  std::string username;
  // The user's sessions, on any node, with the hub that delivers to each.
  std::unordered_map<caf::actor_addr, caf::actor> sessions;
  std::string chosen = "online";  // what the user set: online, away, dnd
  std::int64_t last_seen = 0;     // when the last session ended (ms), 0: never
  // Watching sessions and the hub that delivers to each (events wait there
  // until the session is ready, like every other event).
  std::unordered_map<caf::actor_addr, caf::actor> watchers;
  std::uint64_t handled = 0;
  std::uint64_t handled_at_tick = 0;  // idle.hpp

  // The status others see.
  [[nodiscard]] std::string status() const { return sessions.empty() ? "offline" : chosen; }
  // {status, last_seen?}
  [[nodiscard]] std::string json() const;
  // Each returns whether the visible status changed.
  bool session_up(const caf::actor_addr& session, const caf::actor& hub);
  bool session_down(const caf::actor_addr& session, std::int64_t now);
  bool choose(const std::string& status);
  [[nodiscard]] bool idle() const { return sessions.empty() && watchers.empty(); }
};

// What a presence actor tells its manager: a new status (with last_seen),
// and that it is idle.
using presence_reports = caf::typed_actor<caf::reacts_to<api::status_atom, api::user_id, std::string, std::int64_t>,
                                          caf::reacts_to<api::idle_atom, api::user_id, std::uint64_t>>;

using presence_self = api::probed<presence_state, api::presence_actor::base>;

// manager: the presence manager, told of status changes and idleness.
api::presence_actor::behavior_type presence_actor(presence_self* self, api::user_id user, context_ptr ctx,
                                                  storage::user_store users, presence_reports manager);

}  // namespace confab::actors
