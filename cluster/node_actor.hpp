#pragma once

// Node actor: one per node. Its handle reaches another node only through
// the node's gate (gate.hpp), after both sides proved the cluster secret over
// a link that mutual TLS already admitted; it learns the member list from the
// first node it joins and connects to each member itself, so every pair of
// live nodes has its own authenticated link. It detects failures by monitors
// (a link that drops) and heartbeats (a node that stops answering: suspect
// after 2 missed beats, down after 5 s), and publishes each membership change
// to placement, then tells the node's actors (`view`).
//
// A drain (admin API) makes a node leave: it tells every member it is
// leaving, so that no node, itself included, counts it as the owner of any
// id; its room manager hands every room it holds to the new owners; then the
// node stops. Members drop a leaving node from the list when its link ends.
// Only this node's admin API (or a member's, relayed by that member's node
// actor) drains it, only a member says that it itself leaves, and only the
// actor's own timer ticks; anything else is dropped and counted.
//
// Runs on the CAF scheduler; talks to other nodes through `connector`.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/io/middleman_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "api/messages.hpp"
#include "cluster/membership.hpp"
#include "cluster/placement.hpp"

namespace confab::cluster {

struct node_config {
  std::string secret;
  // Connects to other nodes' cluster ports: caf_openssl's middleman actor
  // (mutual TLS). Null: CAF's plain middleman, for in-process tests only.
  caf::io::middleman_actor connector;
  std::vector<std::string> seeds;  // host:port
  std::shared_ptr<placement> place;
  std::string http;  // host:port of this node's HTTP port
  // Told `view` after each membership change.
  std::vector<caf::actor> listeners;
  std::uint32_t heartbeat_ms = 1000;
  std::uint32_t down_after_ms = 5000;
  // Called once a drain has handed every room of this node to the others
  // (or gave up waiting): the node then stops (apps/ decides how).
  std::function<void()> on_drained;
  // Members removed for good, as saved on this node's disk, and how a new
  // one is saved (before it counts; null: not saved).
  std::vector<std::string> removed;
  std::function<caf::error(const std::string&)> save_removed;
  // The longest a drain waits for the handoffs.
  std::chrono::milliseconds drain_wait{std::chrono::minutes(2)};
};

struct node_state {
  static inline const char* name = "confab.node";

  node_config cfg;
  membership members;
  // Addresses being connected to right now.
  std::vector<std::string> connecting;
  // Callers of `wait`, answered when the first round of seeds is done.
  std::vector<caf::response_promise> waiting;
  std::size_t seeds_pending = 0;
  bool started = false;
  std::int64_t last_retry_ms = 0;
};

caf::behavior node_actor(caf::stateful_actor<node_state>* self, node_config cfg);

}  // namespace confab::cluster
