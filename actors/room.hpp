#pragma once

// Room actor: one per active room, on the room's owner node. The only writer
// of its room: it alone assigns seqs, appends to the log (durable before the
// ack and before anyone hears of it: see syncer.hpp),
// changes membership, and then emits each event once, encoded once, to the
// hubs. Virtual: spawned by the room manager on first use with its state read
// from storage, passivated when idle.

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>

#include "actors/api/messages.hpp"
#include "actors/context.hpp"
#include "actors/probe.hpp"

namespace confab::actors {

// Plain state and logic, testable without an actor.
struct room_state {
  static inline const char* name = "confab.room";

  context_ptr ctx;
  api::room_info info;
  bool exists = false;
  std::map<api::user_id, std::string> members;  // role: owner, member, invited
  api::seq_t last_seq = 0;
  // Messages handled that the manager delegated; equal counts at idle time
  // prove that nothing is in flight to this actor.
  std::uint64_t handled = 0;
  std::uint64_t handled_at_tick = 0;  // idle.hpp
  // Sends in the WAL that wait for a group commit (--durability fsync): the
  // store's write count after each, and what to do once it is durable.
  std::deque<std::pair<std::uint64_t, std::function<void(const caf::error&)>>> waiting;
  // Who is typing: user -> (username, ms when it ends by itself). Never stored.
  std::map<api::user_id, std::pair<std::string, std::int64_t>> typing;

  [[nodiscard]] caf::error load(const api::room_id& id);
  [[nodiscard]] bool is_member(const api::user_id& user) const;
};

// manager: the room manager to report idleness to.
// The usernames `@name` mentions in a body (each once, in order).
[[nodiscard]] std::vector<std::string> mentions(const std::string& body);

caf::behavior room_actor(probed<room_state>* self, api::room_id id, context_ptr ctx, caf::actor manager);

}  // namespace confab::actors
