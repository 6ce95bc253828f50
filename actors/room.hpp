#pragma once

// Room actor: one per active room, on the room's owner node. The only writer
// of its room: it alone assigns seqs and decides each change (a message, a
// membership, a read marker: actors/room_change.hpp), makes it durable
// before the ack and before anyone hears of it, and then emits each event
// once, encoded once, to the hubs. With one copy a change is written to the
// store at once (group commit: syncer.hpp); with more it is an entry of the
// room's replicated log, written by its replica actor and applied to every
// copy's store once a majority has it. Virtual: spawned by the room manager
// on first use with its state read from storage, passivated when idle.

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/context.hpp"
#include "actors/stores.hpp"
#include "api/interfaces.hpp"
#include "api/messages.hpp"
#include "api/probe.hpp"

namespace confab::actors {

// Plain state and logic, testable without an actor.
struct room_state {
  static inline const char* name = "confab.room";

  context_ptr ctx;
  room_stores stores;
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
  // The room's replica actor; null with one copy.
  caf::actor replica;
  // Replicated writes not answered yet. A failed one breaks the room: it
  // serves nothing more, the replica gives up the room (so that what is in
  // flight is settled by the next owner's takeover) and the actor ends once
  // nothing is in flight; the next request starts it again from storage.
  std::uint64_t in_flight = 0;
  bool broken = false;
  // Sends in flight by user and client_msg_id, with the retries waiting for
  // their answer; read markers in flight by user.
  std::map<std::string, std::vector<caf::typed_response_promise<api::send_ack>>> sending;
  std::map<api::user_id, api::seq_t> reading;
  // Who is typing: user -> (username, ms when it ends by itself). Never stored.
  std::map<api::user_id, std::pair<std::string, std::int64_t>> typing;
  // The newest text of each message with an edit, delete, reaction or
  // thread change in flight, and how many of its writes are: the next
  // change of that message starts from it, not from the store; it goes
  // once all of them are settled (two writes may have the same text).
  std::map<api::seq_t, std::pair<std::string, unsigned>> updating;
  // A big room's member changes (joined, left, invited) not sent yet: the
  // first ones by name, how many in all, and whether the send is scheduled.
  std::vector<std::pair<std::string, std::string>> member_changes;
  std::uint64_t member_changes_total = 0;
  bool summary_due = false;

  [[nodiscard]] caf::error load(const api::room_id& id);
  [[nodiscard]] bool is_member(const api::user_id& user) const;
};

// The usernames `@name` mentions in a body (each once, in order).
[[nodiscard]] std::vector<std::string> mentions(const std::string& body);

// What a room needs of its manager: to hear that it is idle.
using room_idle_reports = caf::typed_actor<caf::reacts_to<api::idle_atom, api::room_id, std::uint64_t>>;

using room_self = api::probed<room_state, api::room_actor::base>;

// manager: the room manager to report idleness to; replica: the room's
// replica actor, serving (null with one copy).
api::room_actor::behavior_type room_actor(room_self* self, api::room_id id, context_ptr ctx, room_stores stores,
                                          room_idle_reports manager, caf::actor replica);

}  // namespace confab::actors
