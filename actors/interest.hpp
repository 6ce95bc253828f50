#pragma once

// Which hubs want the events of each room held on this node: one copy of an
// event goes to each hub whose node has a member of the room online, never
// one per member. Shared by the room actors (which read it when they emit,
// and add every hub when membership changes) and the readers (which add the
// asking hub before they read a session's rooms, so no event falls between
// the read and the subscription). Thread-safe.
//
// A hub with nobody in a room answers an event with `uninterest` and the
// generation it was sent with; the removal applies only if nobody added the
// hub since, so a stale answer never drops a hub that has a new reader.

#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>

#include "api/ids.hpp"
#include "api/interfaces.hpp"

namespace confab::actors {

class interest_table {
 public:
  struct targets {
    std::vector<api::hub_actor> hubs;
    std::uint64_t generation = 0;
  };

  void add(const api::room_id& room, const api::hub_actor& hub);
  void add_all(const api::room_id& room, const std::vector<api::hub_actor>& hubs);
  [[nodiscard]] targets of(const api::room_id& room) const;
  void remove(const api::room_id& room, const caf::actor_addr& hub, std::uint64_t generation);
  // The room is no longer held here.
  void forget(const api::room_id& room);
  // Drops hubs of nodes that left the live view.
  void retain(const std::vector<api::hub_actor>& live_hubs);
  [[nodiscard]] std::size_t rooms() const;

 private:
  struct entry {
    std::vector<api::hub_actor> hubs;
    std::uint64_t generation = 0;
  };
  mutable std::mutex mtx_;
  std::unordered_map<api::room_id, entry> rooms_;
};

}  // namespace confab::actors
