#pragma once

// Reader: the query side (CQRS). A pool of these per node serves history
// pages, member lists and room lists straight from RocksDB (each read one
// consistent snapshot), so queries never queue behind a busy room's writes.
// Membership is checked against storage, which the room actor writes before
// it answers. History and member lists reach the pool of the node holding
// the room (through the room manager); a user's rooms and the public
// directory are gathered from the readers of every live node.

#include <caf/behavior.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/context.hpp"
#include "actors/stores.hpp"
#include "api/interfaces.hpp"
#include "api/probe.hpp"

namespace confab::actors {

using reader_self = api::probed_base<api::reader_service::base>;

api::reader_service::behavior_type reader_actor(reader_self* self, context_ptr ctx, reader_stores stores);

}  // namespace confab::actors
