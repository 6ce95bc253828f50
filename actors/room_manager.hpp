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
#include "actors/probe.hpp"

namespace confab::actors {

struct room_manager_state {
  static inline const char* name = "confab.room_manager";

  // A request waiting while the manager asks the other nodes who holds its room.
  struct request {
    caf::response_promise rp;
    caf::message msg;
    std::uint8_t hops = 0;
  };

  context_ptr ctx;
  directory<api::room_id> live;
  // Room -> room manager of the node found holding it (cleared on view changes).
  std::unordered_map<api::room_id, caf::actor> located;
  std::unordered_map<api::room_id, std::vector<request>> locating;

  // Handoffs out of this node (see room_manager.cpp).
  struct outgoing {
    std::string target_id;
    caf::actor target;  // its room manager
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

caf::behavior room_manager(probed<room_manager_state>* self, context_ptr ctx);

// The id of the direct room of two users, the same from either side.
[[nodiscard]] api::room_id dm_room_id(const api::user_id& a, const api::user_id& b);

// The room a routed request is about; empty for other messages.
[[nodiscard]] api::room_id room_of(const caf::message& msg);

}  // namespace confab::actors
