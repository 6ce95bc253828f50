#include "cluster/membership.hpp"

#include "api/errors.hpp"

namespace confab::cluster {

membership::membership(member_card self) : self_(std::move(self)) {}

bool membership::admit(member_card card, std::int64_t now) {
  if (card.id == self_.id || removed(card.id))
    return false;
  auto& m = members_[card.id];
  bool was_live = m.status != "down" && m.card.node;
  bool same = was_live && m.card.started_at == card.started_at && m.card.node == card.node;
  m.card = std::move(card);
  m.status = "up";
  m.last_heard = now;
  m.missed = 0;
  m.leaving = false;
  return !same;
}

void membership::heard(const std::string& id, std::int64_t now) {
  auto it = members_.find(id);
  if (it == members_.end() || it->second.status == "down")
    return;
  it->second.last_heard = now;
  it->second.missed = 0;
  it->second.status = "up";
}

void membership::missed(const std::string& id, std::uint32_t suspect_after) {
  auto it = members_.find(id);
  if (it == members_.end() || it->second.status == "down")
    return;
  if (++it->second.missed >= suspect_after)
    it->second.status = "suspect";
}

bool membership::expire(std::int64_t now, std::int64_t down_after) {
  bool changed = false;
  for (auto it = members_.begin(); it != members_.end();) {
    auto& m = it->second;
    if (m.status == "down" || now - m.last_heard <= down_after) {
      ++it;
      continue;
    }
    changed = true;
    if (m.leaving) {
      it = members_.erase(it);
      continue;
    }
    m.status = "down";
    ++it;
  }
  return changed;
}

bool membership::link_lost(const caf::actor_addr& node) {
  for (auto it = members_.begin(); it != members_.end(); ++it) {
    auto& m = it->second;
    if (m.status != "down" && m.card.node && m.card.node.address() == node) {
      if (m.leaving)
        members_.erase(it);  // it drained and left
      else
        m.status = "down";
      return true;
    }
  }
  return false;
}

bool membership::leave(const std::string& id) {
  if (id == self_.id) {
    bool news = !self_leaving_;
    self_leaving_ = true;
    return news;
  }
  auto it = members_.find(id);
  if (it == members_.end() || it->second.status == "down" || it->second.leaving)
    return false;
  it->second.leaving = true;
  return true;
}

bool membership::know_down(const member_card& card) {
  if (card.id.empty() || card.id == self_.id || removed(card.id) || members_.count(card.id) > 0)
    return false;
  auto& m = members_[card.id];
  m.card.id = card.id;
  m.card.address = card.address;
  m.card.http = card.http;
  m.status = "down";
  return true;
}

std::vector<member_card> membership::down_cards() const {
  std::vector<member_card> out;
  for (auto& [id, m] : members_) {
    if (m.status != "down")
      continue;
    member_card c;
    c.id = id;
    c.address = m.card.address;
    c.http = m.card.http;
    out.push_back(std::move(c));
  }
  return out;
}

bool membership::mark_removed(const std::string& id) {
  if (id == self_.id || removed(id))
    return false;
  members_.erase(id);
  removed_.insert(id);
  return true;
}

caf::error membership::remove(const std::string& id, bool even_live) {
  if (removed(id))
    return caf::none;
  if (id == self_.id)
    return api::fail(api::errc::conflict, "a node does not remove itself: drain it");
  auto it = members_.find(id);
  if (it == members_.end())
    return api::fail(api::errc::not_found, "no such node");
  if (it->second.status != "down" && !even_live)
    return api::fail(api::errc::conflict, "node " + id + " is live: only a node that is down can be removed");
  members_.erase(it);
  removed_.insert(id);
  return caf::none;
}

std::vector<std::string> membership::leaving() const {
  std::vector<std::string> out;
  if (self_leaving_)
    out.push_back(self_.id);
  for (auto& [id, m] : members_)
    if (m.status != "down" && m.leaving)
      out.push_back(id);
  return out;
}

std::size_t membership::owners() const {
  std::size_t n = self_leaving_ ? 0 : 1;
  for (auto& [id, m] : members_)
    n += m.status != "down" && !m.leaving ? 1 : 0;
  return n;
}

std::vector<member_card> membership::live() const {
  std::vector<member_card> out{self_};
  for (auto& [id, m] : members_)
    if (m.status != "down")
      out.push_back(m.card);
  return out;
}

std::vector<std::string> membership::down() const {
  std::vector<std::string> out;
  for (auto& [id, m] : members_)
    if (m.status == "down")
      out.push_back(id);
  return out;
}

std::vector<std::string> membership::live_addresses(const std::string& except) const {
  std::vector<std::string> out;
  for (auto& [id, m] : members_)
    if (m.status != "down" && id != except)
      out.push_back(m.card.address);
  return out;
}

const member* membership::find(const std::string& id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

bool membership::knows_address(const std::string& address) const {
  if (address == self_.address)
    return true;
  for (auto& [id, m] : members_)
    if (m.status != "down" && m.card.address == address)
      return true;
  return false;
}

std::size_t membership::live_peers() const {
  std::size_t n = 0;
  for (auto& [id, m] : members_)
    n += m.status != "down" ? 1 : 0;
  return n;
}

}  // namespace confab::cluster
