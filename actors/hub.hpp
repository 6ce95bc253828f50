#pragma once

// Hub: one per node. Knows which local sessions belong to which users and
// which of those users are in which rooms; receives one copy of each room
// event per node and writes the shared buffer to every local session of
// every member. Holds only weak references to connections.
//
// Joining without a gap: a session subscribes first, then reads its rooms and
// their last seqs from storage, writes its auth reply, and then tells the hub
// it is ready with those seqs. Until then the hub buffers what would have gone
// to it and replays only what is newer than the seqs the session read, so no
// event falls between the read and the subscription, none is sent twice, and
// none reaches the socket before the auth reply.

#include <deque>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/context.hpp"
#include "api/interfaces.hpp"
#include "api/messages.hpp"
#include "api/probe.hpp"
#include "api/sinks.hpp"

namespace confab::actors {

struct hub_state {
  static inline const char* name = "confab.hub";
  // Held per session that is not ready yet; beyond it the session is closed.
  static constexpr std::size_t max_pending = 10000;

  // An event for a session that is not ready yet. seq 0: not a message;
  // an empty room: addressed to the user, not to a room.
  struct pending_event {
    api::room_id room;
    api::seq_t seq = 0;
    api::shared_text event;
  };
  struct session_entry {
    api::user_id user;
    api::sink_ptr sink;
    bool ready = false;
    std::vector<pending_event> pending;
  };
  // Membership of a user is known once the first of their sessions is ready;
  // changes that arrive before that are kept and applied on top of its read.
  struct user_entry {
    std::vector<caf::actor_addr> sessions;
    bool known = false;
    std::unordered_set<api::room_id> rooms;
    std::vector<std::pair<api::room_id, bool>> pending_changes;
  };

  std::unordered_map<caf::actor_addr, session_entry> sessions;
  std::unordered_map<api::user_id, user_entry> users;
  std::unordered_map<api::room_id, std::unordered_set<api::user_id>> room_users;  // known users only
  std::unordered_set<api::user_id> unknown_users;
  bool shutting_down = false;
  // Nodes in the last view: one that (re)joins may hold rooms of our users
  // that were out of reach when their sessions read their rooms, and only
  // rooms whose owner changed need this hub registered again.
  std::unordered_set<std::string> live_nodes;
  context_ptr ctx;

  // Whether an event of the room has anyone here to go to (users whose rooms
  // are not known yet take everything).
  [[nodiscard]] bool wants(const api::room_id& room) const;

  void subscribe(const caf::actor_addr& session, const api::user_id& user, api::sink_ptr sink);
  // `rooms` and `last_seqs` (same order) as the session read them.
  void ready(const caf::actor_addr& session, const std::vector<api::room_id>& rooms,
             const std::vector<api::seq_t>& last_seqs);
  void remove(const caf::actor_addr& session);
  void set_membership(const api::room_id& room, const api::user_id& user, bool joined);
  // except: a user whose sessions skip the event (the typer of a typing event).
  void deliver(const api::room_id& room, api::seq_t seq, const api::user_id& except, const api::shared_text& event);
  void deliver_user(const api::user_id& user, const api::shared_text& event);
  // Writes to a ready session, or keeps the event until it is ready.
  void to_session(session_entry& s, const api::room_id& room, api::seq_t seq, const api::shared_text& event);

 private:
  void apply_membership(user_entry& u, const api::user_id& user, const api::room_id& room, bool joined);
};

using hub_self = api::probed<hub_state, api::hub_actor::base>;

api::hub_actor::behavior_type hub_actor(hub_self* self, context_ptr ctx);

}  // namespace confab::actors
