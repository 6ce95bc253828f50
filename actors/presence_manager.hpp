#pragma once

// Presence manager: one per node. Activates the presence actor of a user on
// first use and routes requests to it (virtual actors, passivated when the
// user has neither sessions nor watchers, as rooms are). Keeps a snapshot of
// every live user's status for cheap queries (member lists, user lookups).

#include <caf/stateful_actor.hpp>

#include "actors/context.hpp"
#include "actors/directory.hpp"

namespace confab::actors {

struct presence_manager_state {
  static inline const char* name = "confab.presence_manager";

  // The snapshot kept per live presence actor.
  struct snapshot {
    std::string status = "offline";
    std::int64_t last_seen = 0;
  };
  context_ptr ctx;
  directory<api::user_id, snapshot> live;
};

caf::behavior presence_manager(caf::stateful_actor<presence_manager_state>* self, context_ptr ctx);

}  // namespace confab::actors
