#pragma once

// What every actor of a node shares: placement, limits and the node's
// shared tables. Set up once by apps/confabd; immutable afterwards. Storage
// is not here: each actor is given the stores it uses (stores.hpp).

#include <atomic>
#include <memory>

#include <caf/actor.hpp>
#include <caf/scheduled_actor.hpp>
#include <string>

#include "actors/interest.hpp"
#include "api/probe.hpp"
#include "cluster/placement.hpp"
#include "config/options.hpp"

namespace confab::actors {

struct node_context {
  // Filled in after the node's actors are spawned, before any traffic.
  std::shared_ptr<cluster::placement> place;
  config::limits lim;
  std::string node_id;
  // Copies of each room (--replication): 1 keeps a room on its owner alone
  // (and hands it off when the owner changes); more replicate each room's
  // log (actors/replica.hpp, docs/REPLICATION.md).
  unsigned replication = 1;
  // Which hubs get the events of each room held here.
  std::shared_ptr<interest_table> interest = std::make_shared<interest_table>();
  // The node's live actors, for the admin view.
  std::shared_ptr<api::actor_index> actors = std::make_shared<api::actor_index>();
  // Group commit of message appends (syncer.hpp); null with --durability
  // wal, where an append is acknowledged once it is in the WAL.
  api::syncer_actor syncer;
  // Makes image thumbnails (libvips, detached); set before any traffic.
  api::thumbnailer_actor thumbnailer;
  // Images sent to it and not yet done (bounded: see upload.cpp).
  std::shared_ptr<std::atomic<std::size_t>> thumbnails_waiting = std::make_shared<std::atomic<std::size_t>>(0);
};
using context_ptr = std::shared_ptr<const node_context>;

}  // namespace confab::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(confab::actors::context_ptr)
