#include "cluster/placement.hpp"

namespace confab::cluster {

placement::placement(std::string node_id, local_actors local)
    : node_id_(std::move(node_id)), local_(std::move(local)), hubs_{local_.hub} {}

caf::actor placement::room(const api::room_id&) const {
  return local_.rooms;
}

caf::actor placement::account(const std::string&) const {
  return local_.accounts;
}

caf::actor placement::reader(const api::room_id&) const {
  return local_.readers;
}

caf::actor placement::presence(const api::user_id&) const {
  return local_.presence;
}

caf::actor placement::reader() const {
  return local_.readers;
}

}  // namespace confab::cluster
