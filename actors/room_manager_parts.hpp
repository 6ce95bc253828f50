#pragma once

// The parts of the room manager (room_manager.hpp), one concern a file:
// routing a request to the node and actor that serve its room
// (room_routing.cpp), keeping each replicated room's copy set where
// rendezvous hashing wants it (room_repair.cpp), and handing a room to its
// new owner (room_handoff.cpp). All run in the room manager actor; internal
// to actors/.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/response_promise.hpp>
#include <caf/result.hpp>

#include "actors/room_manager.hpp"
#include "api/messages.hpp"
#include "cluster/replication.hpp"

namespace confab::actors::rooms {

using self_ptr = room_manager_self*;

// A member's room manager: a card names it by the part other modules use
// (api::room_service); room managers also take each other's handoff and
// replication messages.
inline room_manager_actor manager_of(const cluster::member_card& m) {
  return caf::actor_cast<room_manager_actor>(m.rooms);
}
inline room_manager_actor manager_of(const api::room_service& rooms) {
  return caf::actor_cast<room_manager_actor>(rooms);
}
inline bool is_me(self_ptr self, const room_manager_actor& m) {
  return m && m.address() == self->address();
}

// How long the manager waits for another node to say whether it holds a
// room, and for its copy to take a room (a new epoch).
inline constexpr auto locate_timeout = std::chrono::seconds(2);
inline constexpr auto take_timeout = std::chrono::seconds(15);

// -- routing (room_routing.cpp)
bool replicated(self_ptr self);
std::vector<std::string> fresh_copies(self_ptr self, const api::room_id& id);
std::map<std::string, caf::actor> peers_of(self_ptr self);
caf::expected<std::vector<std::string>> copy_set(self_ptr self, const api::room_id& id);
const room_manager_state::replica* replica_of(self_ptr self, const api::room_id& id, std::vector<std::string> fresh);
void forward(caf::response_promise& rp, const room_manager_actor& to, std::uint8_t hops, const api::room_id& id,
             caf::message msg);
void dispatch(self_ptr self, const api::room_id& id, std::uint8_t hops, caf::response_promise rp, caf::message msg);
// Serves a request for a replicated room whose first live copy is this node
// once this node's copy has taken the room; `fresh`: the copy set of a room
// this request makes (a direct room).
void serve_owned(self_ptr self, const api::room_id& id, caf::response_promise rp, caf::message msg,
                 std::vector<std::string> fresh = {});

// -- copy sets (room_repair.cpp)
void check_copies(self_ptr self, const api::room_id& id);
room_manager_actor first_live_copy(self_ptr self, const std::vector<std::string>& copies);
void check_left_sets(self_ptr self);
void find_repairs(self_ptr self);

// -- handoff (room_handoff.cpp)
void resolve_fence(self_ptr self, const api::room_id& id, const std::string& target);
void check_drained(self_ptr self);
void plan_moves(self_ptr self);
caf::result<std::string> receive_piece(self_ptr self, api::room_piece& piece);
void incoming_expired(self_ptr self, const api::room_id& id);
bool from_live_member(self_ptr self);
// Hands a message between copies to this node's copy of the room; the
// promise is answered by it (or with the reason it cannot).
caf::response_promise to_copy(self_ptr self, const api::room_id& id, std::vector<std::string> copies);

}  // namespace confab::actors::rooms
