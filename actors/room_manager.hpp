#pragma once

// Room manager: one per node. Creates rooms (with ids this node owns), and
// routes every request for a room: to its room actor when the room is held
// here, activating it on first use (virtual actors); otherwise to the node
// that owns the room id, which serves it or, when the room is still held by
// another node (membership changed since it was made), finds that node and
// forwards there. Queries (history, members) go to the reader pool of the
// holding node. All traffic to local room actors passes here, so it can count
// what it delegated and passivate an idle room only when nothing is in flight
// to it.
//
// With one copy (--replication 1), exactly one node holds a room's data and
// so runs its room actor: a node that neither holds a room nor owns its id
// never activates it. With more, every node of a room's copy set (fixed
// when the room is made: its creator, then the next nodes in rendezvous
// order) runs a replica actor for it, and the first of them that is live
// takes the room (a new epoch, docs/REPLICATION.md) when a request reaches
// it, then runs its room actor; the others forward to it.

#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/context.hpp"
#include "actors/directory.hpp"
#include "actors/stores.hpp"
#include "api/interfaces.hpp"
#include "api/probe.hpp"
#include "cluster/replication.hpp"

namespace confab::actors {

// The room manager's whole interface: what it serves for rooms
// (api::room_service), and what nodes and this node's actors tell it.
using room_manager_actor = api::room_service::extend<
    // A request another node sent on: (hops so far, its room, the request);
    // it answers what the room answers.
    caf::replies_to<api::forward_atom, std::uint8_t, api::room_id, caf::message>::with<caf::message>,
    // Whether this node has the room (held, moving away, or fenced).
    caf::replies_to<api::holds_atom, api::room_id>::with<bool>,
    // Handoff (room_handoff.cpp): a piece of a room arriving, and the end of
    // the wait for one.
    caf::replies_to<api::handoff_atom, api::room_piece>::with<std::string>,
    caf::reacts_to<api::handoff_atom, api::room_id>,
    caf::reacts_to<api::idle_atom, api::room_id, std::uint64_t>,  // from a room
    caf::reacts_to<api::view_atom>,                               // the cluster changed
    // Between the copies of a room (actors/replica.hpp), to this node's copy.
    caf::replies_to<api::prepare_atom, api::room_id, std::vector<std::string>,
                    cluster::replication::epoch>::with<cluster::replication::prepare_reply>,
    caf::replies_to<api::append_atom, api::room_id, std::vector<std::string>,
                    cluster::replication::append_request>::with<cluster::replication::append_reply>,
    caf::replies_to<api::fetch_atom, api::room_id, cluster::replication::epoch, std::uint64_t,
                    std::uint64_t>::with<std::vector<cluster::replication::entry>>,
    // From this node's copy of a room: its new copy set; it stopped leading;
    // it left the set.
    caf::reacts_to<api::copies_atom, api::room_id, std::vector<std::string>>,
    caf::reacts_to<api::resign_atom, api::room_id>, caf::reacts_to<api::dropped_atom, api::room_id, bool>,
    // From an owner: this node's copy is out of the room's set.
    caf::reacts_to<api::dropped_atom, api::room_id>,
    caf::reacts_to<api::repair_atom, api::room_id>,  // look at the room's copy set
    caf::reacts_to<api::drain_atom, bool>>;          // look again whether drained

struct room_manager_state {
  static inline const char* name = "confab.room_manager";

  // A request waiting while the manager asks the other nodes who holds its room.
  struct request {
    caf::response_promise rp;
    caf::message msg;
    std::uint8_t hops = 0;
  };

  context_ptr ctx;
  room_stores stores;  // its rooms and log copies get them too
  directory<api::room_id, api::room_actor> live;
  // Room -> room manager of the node found holding it (cleared on view changes).
  std::unordered_map<api::room_id, room_manager_actor> located;
  std::unordered_map<api::room_id, std::vector<request>> locating;

  // Handoffs out of this node (see room_manager.cpp).
  struct outgoing {
    std::string target_id;
    room_manager_actor target;  // its room manager
    std::vector<request> waiting;
    bool final_sent = false;
    std::int64_t started_ms = 0;
  };
  std::unordered_map<api::room_id, outgoing> moving;
  std::deque<api::room_id> to_move;
  std::unordered_set<api::room_id> queued_moves;
  std::size_t moves_running = 0;
  // Rooms arriving here, with the requests that wait for them.
  std::unordered_map<api::room_id, std::vector<request>> incoming;
  // Drains waiting until no room is held here.
  std::vector<caf::response_promise> drain_waiters;
  bool checking_drain = false;  // replicated: asking the rooms' owners

  // Replicated rooms: this node's copies (started on first use), and the
  // requests waiting for this node to take a room.
  struct replica {
    caf::actor actor;
    std::vector<std::string> copies;
  };
  std::unordered_map<api::room_id, replica> replicas;
  std::unordered_map<api::room_id, std::vector<request>> taking;
  // Rooms whose copy set wants a change (see room_manager.cpp).
  std::deque<api::room_id> to_repair;
  std::unordered_set<api::room_id> queued_repairs;
  std::unordered_set<api::room_id> parked_repairs;
  std::unordered_map<api::room_id, int> repair_tries;
  std::vector<std::vector<std::string>> scanned_lists;  // member lists at the last look
  std::size_t repairs_running = 0;
  std::size_t repaired = 0;
};

using room_manager_self = api::probed<room_manager_state, room_manager_actor::base>;

room_manager_actor::behavior_type room_manager(room_manager_self* self, context_ptr ctx, room_stores stores);

// The id of the direct room of two users, the same from either side.
[[nodiscard]] api::room_id dm_room_id(const api::user_id& a, const api::user_id& b);

}  // namespace confab::actors
