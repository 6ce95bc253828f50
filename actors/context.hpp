#pragma once

// What every actor of a node shares: the store, placement and limits. Set up
// once by apps/confabd; immutable afterwards.

#include <atomic>
#include <memory>

#include <caf/actor.hpp>
#include <caf/scheduled_actor.hpp>
#include <string>

#include "actors/interest.hpp"
#include "cluster/placement.hpp"
#include "config/options.hpp"
#include "storage/store.hpp"

namespace confab::actors {

// Counters of the node, for the admin API and the benchmarks.
struct node_counters {
  std::atomic<std::uint64_t> room_events{0};    // events emitted by rooms held here
  std::atomic<std::uint64_t> remote_copies{0};  // copies of them sent to hubs of other nodes
};

struct node_context {
  std::shared_ptr<storage::store> db;
  // Filled in after the node's actors are spawned, before any traffic.
  std::shared_ptr<cluster::placement> place;
  config::limits lim;
  std::string node_id;
  // This node's node actor (membership; cluster/node_actor.hpp).
  caf::actor node;
  // Bearer token of the admin API.
  std::string admin_token;
  std::shared_ptr<node_counters> counters = std::make_shared<node_counters>();
  // Which hubs get the events of each room held here.
  std::shared_ptr<interest_table> interest = std::make_shared<interest_table>();
  // Makes image thumbnails (libvips, detached); set before any traffic.
  caf::actor thumbnailer;
};
using context_ptr = std::shared_ptr<const node_context>;

// A long-lived actor (manager, hub, account, frontend) must not end because
// an error arrives that nobody asked for (CAF's default): it is logged and
// dropped.
void log_stray_errors(caf::scheduled_actor* self, const char* who);

// Milliseconds since the Unix epoch.
[[nodiscard]] std::int64_t now_ms();
// `prefix` + 16 random hex digits.
[[nodiscard]] std::string random_id(const char* prefix);

}  // namespace confab::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(confab::actors::context_ptr)
