#pragma once

// Room manager: one per node. Creates rooms, and routes every request for a
// room to its room actor, activating it on first use (virtual actors). All
// traffic to room actors passes here, so it can count what it delegated and
// passivate an idle room only when nothing is in flight to it.

#include <caf/stateful_actor.hpp>

#include "actors/context.hpp"
#include "actors/directory.hpp"

namespace confab::actors {

struct room_manager_state {
  static inline const char* name = "confab.room_manager";

  context_ptr ctx;
  directory<api::room_id> live;
};

caf::behavior room_manager(caf::stateful_actor<room_manager_state>* self, context_ptr ctx);

// The id of the direct room of two users, the same from either side.
[[nodiscard]] api::room_id dm_room_id(const api::user_id& a, const api::user_id& b);

}  // namespace confab::actors
