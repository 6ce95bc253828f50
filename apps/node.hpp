#pragma once

// The one place that wires a node: store, actors, placement, client port.

#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "config/options.hpp"

namespace confab::apps {

class node {
 public:
  // Opens the data dir, spawns the node's actors in `sys` and starts serving.
  // A failure is one line for the operator.
  [[nodiscard]] static caf::expected<std::unique_ptr<node>> start(caf::actor_system& sys, const config::options& opts);
  virtual ~node() = default;
  [[nodiscard]] virtual const std::string& id() const = 0;
  [[nodiscard]] virtual std::uint16_t http_port() const = 0;
  // 0 when the node runs alone (no --cluster-port).
  [[nodiscard]] virtual std::uint16_t cluster_port() const = 0;
  [[nodiscard]] virtual const std::string& admin_token() const = 0;
  // Closes every socket with 4000 and stops every actor of the node.
  virtual void stop() = 0;
};

}  // namespace confab::apps
