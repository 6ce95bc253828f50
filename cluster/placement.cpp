#include "cluster/placement.hpp"

#include <algorithm>

#include "cluster/rendezvous.hpp"

namespace confab::cluster {

placement::placement(member_card self, api::pusher_actor pusher) : self_(std::move(self)), pusher_(std::move(pusher)) {
  set_members({self_}, {});
}

void placement::set_members(std::vector<member_card> live, std::vector<std::string> down,
                            const std::vector<std::string>& leaving, std::vector<std::string> removed) {
  auto v = std::make_shared<view>();
  auto old = view_.load();
  v->epoch = old ? old->epoch + 1 : 1;
  std::sort(live.begin(), live.end(), [](const member_card& a, const member_card& b) { return a.id < b.id; });
  v->live = std::move(live);
  for (auto& m : v->live)
    if (std::find(leaving.begin(), leaving.end(), m.id) == leaving.end()) {
      v->owners.push_back(m);
      v->ids.push_back(m.id);
    }
  v->down = std::move(down);
  v->removed = std::move(removed);
  view_.store(std::move(v));
}

bool placement::is_owner() const {
  auto v = current();
  return std::find(v->ids.begin(), v->ids.end(), self_.id) != v->ids.end();
}

const member_card& placement::owner(const view& v, const std::string& key) const {
  if (v.owners.empty())
    return self_;
  return v.owners[rendezvous_owner(key, v.ids)];
}

api::room_service placement::room(const api::room_id& id) const {
  auto v = current();
  return owner(*v, room_key(id.value)).rooms;
}

api::account_service placement::account(const std::string& username) const {
  auto v = current();
  return owner(*v, account_key(username)).accounts;
}

api::presence_service placement::presence(const api::user_id& id) const {
  auto v = current();
  return owner(*v, presence_key(id.value)).presence;
}

std::vector<api::hub_actor> placement::hubs() const {
  auto v = current();
  std::vector<api::hub_actor> out;
  out.reserve(v->live.size());
  for (auto& m : v->live)
    out.push_back(m.hub);
  return out;
}

namespace {

constexpr std::size_t file_tag_size = 8;

std::string file_tag(const std::string& node_id) {
  static const char* digits = "0123456789abcdef";
  auto w = rendezvous_weight("file", node_id);
  std::string tag;
  for (std::size_t i = 0; i < file_tag_size; ++i)
    tag.push_back(digits[(w >> (4 * i)) & 0xf]);
  return tag;
}

}  // namespace

std::string placement::file_prefix() const {
  return tagged_prefix("f_");
}

std::string placement::tagged_prefix(const std::string& prefix) const {
  return prefix + file_tag(self_.id);
}

std::optional<member_card> placement::tagged_home(const std::string& id, const std::string& prefix) const {
  if (id.size() != prefix.size() + file_tag_size + 16 || id.compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  auto tag = id.substr(prefix.size(), file_tag_size);
  auto v = current();
  for (auto& m : v->live)
    if (file_tag(m.id) == tag)
      return m;
  return std::nullopt;
}

api::reader_service placement::file_home(const std::string& file_id) const {
  // Ids of files made before the cluster: 16 random digits, stored here.
  if (file_id.size() != 2 + file_tag_size + 16 || file_id.compare(0, 2, "f_") != 0)
    return self_.readers;
  auto tag = file_id.substr(2, file_tag_size);
  auto v = current();
  for (auto& m : v->live)
    if (file_tag(m.id) == tag)
      return m.readers;
  return {};
}

std::vector<member_card> placement::file_peers(const std::string& file_id) const {
  auto tag = file_id.size() == 2 + file_tag_size + 16 ? file_id.substr(2, file_tag_size) : std::string{};
  auto v = current();
  std::vector<std::string> ids;
  std::vector<const member_card*> cards;
  for (auto& m : v->live)
    if (file_tag(m.id) != tag) {
      ids.push_back(m.id);
      cards.push_back(&m);
    }
  std::vector<member_card> out;
  for (auto i : rendezvous_rank(file_key(file_id), ids))
    out.push_back(*cards[i]);
  return out;
}

bool placement::file_home_down(const std::string& file_id) const {
  if (file_id.size() != 2 + file_tag_size + 16)
    return false;
  auto tag = file_id.substr(2, file_tag_size);
  auto v = current();
  for (auto& id : v->down)
    if (file_tag(id) == tag)
      return true;
  return false;
}

std::string placement::room_owner(const api::room_id& id) const {
  auto v = current();
  return owner(*v, room_key(id.value)).id;
}

std::string placement::room_owner_among(const api::room_id& id, const std::vector<std::string>& ids) {
  return ids[rendezvous_owner(room_key(id.value), ids)];
}

std::vector<std::string> placement::fresh_room_copies(const api::room_id& id, std::size_t n) const {
  auto v = current();
  auto members = v->ids;
  members.insert(members.end(), v->down.begin(), v->down.end());
  std::vector<std::string> out{self_.id};
  for (auto i : rendezvous_rank(room_key(id.value), members))
    if (out.size() < n && members[i] != self_.id)
      out.push_back(members[i]);
  return out;
}

}  // namespace confab::cluster
