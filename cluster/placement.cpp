#include "cluster/placement.hpp"

#include <algorithm>

#include "cluster/rendezvous.hpp"

namespace confab::cluster {

placement::placement(member_card self, caf::actor pusher) : self_(std::move(self)), pusher_(std::move(pusher)) {
  set_members({self_}, {});
}

void placement::set_members(std::vector<member_card> live, std::vector<std::string> down) {
  auto v = std::make_shared<view>();
  auto old = view_.load();
  v->epoch = old ? old->epoch + 1 : 1;
  std::sort(live.begin(), live.end(), [](const member_card& a, const member_card& b) { return a.id < b.id; });
  v->live = std::move(live);
  for (auto& m : v->live)
    v->ids.push_back(m.id);
  v->down = std::move(down);
  view_.store(std::move(v));
}

const member_card& placement::owner(const view& v, const std::string& key) const {
  if (v.live.empty())
    return self_;
  return v.live[rendezvous_owner(key, v.ids)];
}

caf::actor placement::room(const api::room_id& id) const {
  auto v = current();
  return owner(*v, room_key(id.value)).rooms;
}

caf::actor placement::account(const std::string& username) const {
  auto v = current();
  return owner(*v, account_key(username)).accounts;
}

caf::actor placement::presence(const api::user_id& id) const {
  auto v = current();
  return owner(*v, presence_key(id.value)).presence;
}

std::vector<caf::actor> placement::hubs() const {
  auto v = current();
  std::vector<caf::actor> out;
  out.reserve(v->live.size());
  for (auto& m : v->live)
    out.push_back(m.hub);
  return out;
}

std::string placement::room_owner(const api::room_id& id) const {
  auto v = current();
  return owner(*v, room_key(id.value)).id;
}

}  // namespace confab::cluster
