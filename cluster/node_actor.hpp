#pragma once

// Node actor: one per node, published on the cluster port. It admits other
// nodes only after both sides prove they hold the cluster secret (HMAC over a
// fresh nonce of the other side), learns the member list from the first node
// it joins and connects to each member itself, so every pair of live nodes
// has its own authenticated link. It detects failures by monitors (a link
// that drops) and heartbeats (a node that stops answering: suspect after
// 2 missed beats, down after 5 s), and publishes each membership change to
// placement, then tells the node's actors (`view`).
//
// A drain (admin API) makes a node leave: it tells every member it is
// leaving, so that no node, itself included, counts it as the owner of any
// id; its room manager hands every room it holds to the new owners; then the
// node stops. Members drop a leaving node from the list when its link ends.
//
// Runs on the CAF scheduler; talks to other nodes through the middleman.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>

#include "actors/api/messages.hpp"
#include "cluster/membership.hpp"
#include "cluster/placement.hpp"

namespace confab::cluster {

struct node_config {
  std::string secret;
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
  // The longest a drain waits for the handoffs.
  std::chrono::milliseconds drain_wait{std::chrono::minutes(2)};
};

struct node_state {
  static inline const char* name = "confab.node";

  node_config cfg;
  membership members;
  // Nonces handed out to nodes that asked to join, oldest first (bounded).
  std::vector<std::string> nonces;
  // Addresses being connected to right now.
  std::vector<std::string> connecting;
  // Callers of `wait`, answered when the first round of seeds is done.
  std::vector<caf::response_promise> waiting;
  std::size_t seeds_pending = 0;
  bool started = false;
  std::int64_t last_retry_ms = 0;
};

caf::behavior node_actor(caf::stateful_actor<node_state>* self, node_config cfg);

// HMAC-SHA256 of `role`, `nonce` and `id` under `secret`, as hex.
[[nodiscard]] std::string link_proof(const std::string& secret, const std::string& role, const std::string& nonce,
                                     const std::string& id);

}  // namespace confab::cluster
