#pragma once

// The member list of one node: who is up, suspect or down, and when each was
// last heard from. Plain state, owned by the node actor; every change that
// alters the live set returns true so the caller can publish a new view.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/error.hpp>

#include "cluster/placement.hpp"

namespace confab::cluster {

struct member {
  member_card card;
  std::string status = "up";  // up, suspect (missed heartbeats), down
  std::int64_t last_heard = 0;
  std::uint32_t missed = 0;
  // Draining: still linked and serving, but owns no id; it leaves the list
  // (rather than going down) when its link ends.
  bool leaving = false;
};

class membership {
 public:
  explicit membership(member_card self = {});

  // A node whose link was just authenticated (new, or a new incarnation);
  // a removed node is not admitted (false).
  bool admit(member_card card, std::int64_t now);
  // A heartbeat answered.
  void heard(const std::string& id, std::int64_t now);
  // A heartbeat unanswered: suspect after `suspect_after` misses.
  void missed(const std::string& id, std::uint32_t suspect_after = 2);
  // Members silent for `down_after` ms go down.
  bool expire(std::int64_t now, std::int64_t down_after);
  // The link to the node whose node actor is `node` dropped.
  bool link_lost(const caf::actor_addr& node);
  // A member (or this node) is draining; true when that is news.
  bool leave(const std::string& id);
  [[nodiscard]] bool self_leaving() const { return self_leaving_; }
  // A member that is down for good leaves the list and is never admitted
  // again (in this process): none when it was removed, conflict when it is
  // this node or live (unless `even_live`: another member found it down and
  // told this one), not_found when no member has that id.
  [[nodiscard]] caf::error remove(const std::string& id, bool even_live = false);
  // A node removed for good earlier (this node's disk, or the removed list a
  // member sent when it admitted this node); true when that is news.
  bool mark_removed(const std::string& id);
  [[nodiscard]] bool removed(const std::string& id) const { return removed_.count(id) > 0; }
  // A member the admitting node lists as down that this node has not met
  // (it started, or restarted, while that one was down): listed down here
  // too, so that it keeps its place in copy sets, is dialled again and can
  // be removed; true when that is news.
  bool know_down(const member_card& card);
  // The members that are down, as cards without actor handles (which would
  // make the receiver dial a dead node): id and addresses only.
  [[nodiscard]] std::vector<member_card> down_cards() const;
  [[nodiscard]] std::vector<std::string> removed() const { return {removed_.begin(), removed_.end()}; }
  // What the admin view calls a member: up, suspect, draining or down.
  [[nodiscard]] static std::string status_of(const member& m) {
    return m.leaving && m.status != "down" ? "draining" : m.status;
  }

  // Up and suspect members, this node included.
  [[nodiscard]] std::vector<member_card> live() const;
  [[nodiscard]] std::vector<std::string> down() const;
  // Live members that are draining, this node included.
  [[nodiscard]] std::vector<std::string> leaving() const;
  // Live members that own ids (not draining), this node included.
  [[nodiscard]] std::size_t owners() const;
  // Cluster addresses of the live members other than `except`.
  [[nodiscard]] std::vector<std::string> live_addresses(const std::string& except) const;
  [[nodiscard]] const member* find(const std::string& id) const;
  [[nodiscard]] bool knows_address(const std::string& address) const;
  [[nodiscard]] const std::map<std::string, member>& all() const { return members_; }
  [[nodiscard]] const member_card& self() const { return self_; }
  [[nodiscard]] std::size_t live_peers() const;

 private:
  member_card self_;
  bool self_leaving_ = false;
  std::map<std::string, member> members_;  // others, by id
  std::set<std::string> removed_;
};

}  // namespace confab::cluster
