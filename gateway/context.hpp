#pragma once

// What the HTTP and admin frontends of a node share: placement, limits, the
// admin token, the index of live actors and the web files. Filled in by
// apps/confabd before any traffic (the node actor once the node has joined);
// immutable afterwards.

#include <memory>
#include <string>

#include <caf/actor.hpp>

#include "api/probe.hpp"
#include "cluster/placement.hpp"
#include "config/options.hpp"

namespace confab::gateway {

class static_files;

struct frontend_context {
  std::shared_ptr<cluster::placement> place;
  config::limits lim;
  std::string node_id;
  // Bearer token of the admin API.
  std::string admin_token;
  // This node's node actor (membership; cluster/node_actor.hpp).
  caf::actor node;
  // The node's live actors, for the admin view.
  std::shared_ptr<api::actor_index> actors;
  // The admin console and web client pages.
  std::shared_ptr<const static_files> web;
  // The data directory, for the disk gauges of /metrics.
  std::string data_dir;
};
using context_ptr = std::shared_ptr<const frontend_context>;

}  // namespace confab::gateway
