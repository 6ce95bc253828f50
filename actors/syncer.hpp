#pragma once

// Syncer: group commit for --durability fsync. Detached (its own thread), as
// an fsync blocks. A room appends a message to the WAL without fsync, then
// asks `(fsync_atom, ticket)` with the store's write count after its append;
// the syncer answers with the count its last fsync covered, fsyncing first
// only when that count is below the ticket. Every request that queued while
// one fsync ran is answered by the next one: one fsync for every write that
// arrived meanwhile, from any room.

#include <memory>

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>

#include "api/interfaces.hpp"
#include "storage/database.hpp"

namespace confab::actors {

api::syncer_actor::behavior_type syncer_actor(api::syncer_actor::pointer self, std::shared_ptr<storage::database> db);

}  // namespace confab::actors
