#pragma once

// The one way callers reach a room, an account or the hubs: by id. On one
// node every id is owned here; a cluster will pick the owner by rendezvous
// hashing over the live members, and callers will not change.
//
// Written once by apps/confabd while wiring the node, before any traffic;
// read-only (and so shared across threads) after that.

#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "actors/api/ids.hpp"

namespace confab::cluster {

class placement {
 public:
  struct local_actors {
    caf::actor rooms;     // room manager: activates and routes to room actors
    caf::actor accounts;  // account actor
    caf::actor hub;       // this node's fan-out hub
    caf::actor readers;   // query pool (history, members, room lists)
    caf::actor presence;  // presence manager: activates presence actors
    caf::actor pusher;    // offline push webhook queue; null when not configured
  };

  placement(std::string node_id, local_actors local);

  [[nodiscard]] const std::string& node_id() const { return node_id_; }
  // Accepts requests for the room (send, join, leave, invite, dm).
  [[nodiscard]] caf::actor room(const api::room_id& id) const;
  // Owner of the account with this username.
  [[nodiscard]] caf::actor account(const std::string& username) const;
  // Serves queries about the room from snapshots on its owner.
  [[nodiscard]] caf::actor reader(const api::room_id& id) const;
  // Reader for queries about a user (their rooms) and the directory.
  [[nodiscard]] caf::actor reader() const;
  // Accepts requests for the presence of the user (and their notifications).
  [[nodiscard]] caf::actor presence(const api::user_id& id) const;
  // Where notifications for users without a session go; null: nowhere.
  [[nodiscard]] const caf::actor& pusher() const { return local_.pusher; }
  // Every hub that may have sessions for a room's members.
  [[nodiscard]] const std::vector<caf::actor>& hubs() const { return hubs_; }
  [[nodiscard]] const caf::actor& local_hub() const { return local_.hub; }

 private:
  std::string node_id_;
  local_actors local_;
  std::vector<caf::actor> hubs_;
};

}  // namespace confab::cluster
