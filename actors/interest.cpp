#include "actors/interest.hpp"

#include <algorithm>

namespace confab::actors {

void interest_table::add(const api::room_id& room, const api::hub_actor& hub) {
  add_all(room, {hub});
}

void interest_table::add_all(const api::room_id& room, const std::vector<api::hub_actor>& hubs) {
  std::lock_guard lock{mtx_};
  auto& e = rooms_[room];
  ++e.generation;
  for (auto& hub : hubs)
    if (std::find(e.hubs.begin(), e.hubs.end(), hub) == e.hubs.end())
      e.hubs.push_back(hub);
}

interest_table::targets interest_table::of(const api::room_id& room) const {
  std::lock_guard lock{mtx_};
  auto it = rooms_.find(room);
  if (it == rooms_.end())
    return {};
  return {it->second.hubs, it->second.generation};
}

void interest_table::remove(const api::room_id& room, const caf::actor_addr& hub, std::uint64_t generation) {
  std::lock_guard lock{mtx_};
  auto it = rooms_.find(room);
  if (it == rooms_.end() || it->second.generation != generation)
    return;
  auto& hubs = it->second.hubs;
  hubs.erase(std::remove_if(hubs.begin(), hubs.end(), [&](const api::hub_actor& h) { return h.address() == hub; }),
             hubs.end());
  if (hubs.empty())
    rooms_.erase(it);
}

void interest_table::forget(const api::room_id& room) {
  std::lock_guard lock{mtx_};
  rooms_.erase(room);
}

void interest_table::retain(const std::vector<api::hub_actor>& live_hubs) {
  std::lock_guard lock{mtx_};
  for (auto it = rooms_.begin(); it != rooms_.end();) {
    auto& hubs = it->second.hubs;
    hubs.erase(std::remove_if(hubs.begin(), hubs.end(),
                              [&](const api::hub_actor& h) {
                                return std::find(live_hubs.begin(), live_hubs.end(), h) == live_hubs.end();
                              }),
               hubs.end());
    it = hubs.empty() ? rooms_.erase(it) : std::next(it);
  }
}

std::size_t interest_table::rooms() const {
  std::lock_guard lock{mtx_};
  return rooms_.size();
}

}  // namespace confab::actors
