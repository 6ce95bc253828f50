#pragma once

// Presence manager: one per node. Activates the presence actor of a user on
// first use and routes requests to it (virtual actors, passivated when the
// user has neither sessions nor watchers, as rooms are). Keeps a snapshot of
// every live user's status for cheap queries (member lists, user lookups).

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/context.hpp"
#include "actors/directory.hpp"
#include "api/atoms.hpp"
#include "api/interfaces.hpp"
#include "api/probe.hpp"
#include "cluster/placement.hpp"
#include "cluster/scatter.hpp"
#include "storage/users.hpp"
#include "wire/events.hpp"

namespace confab::actors {

struct presence_manager_state {
  static inline const char* name = "confab.presence_manager";

  // The snapshot kept per live presence actor.
  struct snapshot {
    std::string status = "offline";
    std::int64_t last_seen = 0;
  };
  context_ptr ctx;
  storage::user_store user_db;  // last seen; its presences get it too
  directory<api::user_id, api::presence_actor, snapshot> live;
};

// The presence manager's interface: what it serves (api::presence_service)
// and what its presence actors and the node tell it.
using presence_manager_actor = api::presence_service::extend<
    caf::reacts_to<api::status_atom, api::user_id, std::string, std::int64_t>,  // a status changed
    caf::reacts_to<api::idle_atom, api::user_id, std::uint64_t>,                // a presence is idle
    caf::reacts_to<api::view_atom>>;                                            // the cluster changed

using presence_manager_self = api::probed<presence_manager_state, presence_manager_actor::base>;

presence_manager_actor::behavior_type presence_manager(presence_manager_self* self, context_ptr ctx,
                                                       storage::user_store users);

}  // namespace confab::actors
