#pragma once

// The one way callers reach a room, an account, a presence or the hubs: by
// id. Rendezvous hashing over the live members picks the owner of each id;
// on a single node every id is owned here. Nothing else in the code knows how
// many nodes there are.
//
// Written by this node's node actor (cluster/node_actor) whenever the live
// membership changes; read by every actor on any thread. Each change
// publishes a new immutable view, so a reader sees one consistent view.

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "api/ids.hpp"
#include "api/interfaces.hpp"

namespace confab::cluster {

// What a node tells the others about itself once its link is authenticated.
struct member_card {
  std::string id;
  std::string address;             // host:port of its cluster (middleman) port
  std::string http;                // host:port of its HTTP port
  std::int64_t started_at = 0;     // ms; a restart is a new incarnation
  caf::actor node;                 // node actor: membership, heartbeats
  api::room_service rooms;         // room manager: routes to room actors
  api::account_service accounts;   // account actor
  api::hub_actor hub;              // fan-out hub of its sessions
  api::reader_service readers;     // query pool
  api::presence_service presence;  // presence manager
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_card& x) {
  return f(caf::meta::type_name("confab::cluster::member_card"), x.id, x.address, x.http, x.started_at, x.node, x.rooms,
           x.accounts, x.hub, x.readers, x.presence);
}

class placement {
 public:
  struct local_actors {
    api::room_service rooms;         // room manager: activates and routes to room actors
    api::account_service accounts;   // account actor
    api::hub_actor hub;              // this node's fan-out hub
    api::reader_service readers;     // query pool (history, members, room lists)
    api::presence_service presence;  // presence manager: activates presence actors
    api::pusher_actor pusher;        // offline push webhook queue; null when not configured
  };

  // One membership as seen at one moment. `live` is sorted by id and holds
  // this node; `owners` are the live members that own ids (all but those
  // draining); `down` lists members that stopped answering.
  struct view {
    std::uint64_t epoch = 0;
    std::vector<member_card> live;
    std::vector<member_card> owners;
    std::vector<std::string> ids;  // ids of `owners`, same order
    std::vector<std::string> down;
    std::vector<std::string> removed;  // members removed for good (admin)
  };

  placement(member_card self, api::pusher_actor pusher);

  // Publishes a new view (node actor only). `live` must hold this node;
  // `leaving` names live members that own nothing any more (draining).
  void set_members(std::vector<member_card> live, std::vector<std::string> down,
                   const std::vector<std::string>& leaving = {}, std::vector<std::string> removed = {});
  [[nodiscard]] std::shared_ptr<const view> current() const { return view_.load(); }

  [[nodiscard]] const std::string& node_id() const { return self_.id; }
  // Whether this node owns ids (false while it drains).
  [[nodiscard]] bool is_owner() const;
  [[nodiscard]] const member_card& self() const { return self_; }
  // Room manager of the room's owner; it serves the room or forwards it.
  [[nodiscard]] api::room_service room(const api::room_id& id) const;
  // Account actor of the owner of the username.
  [[nodiscard]] api::account_service account(const std::string& username) const;
  // Presence manager of the owner of the user.
  [[nodiscard]] api::presence_service presence(const api::user_id& id) const;
  // This node's query pool.
  [[nodiscard]] const api::reader_service& reader() const { return self_.readers; }
  // Where notifications for users without a session go; null: nowhere.
  [[nodiscard]] const api::pusher_actor& pusher() const { return pusher_; }
  // The hub of every live node.
  [[nodiscard]] std::vector<api::hub_actor> hubs() const;
  [[nodiscard]] const api::hub_actor& local_hub() const { return self_.hub; }

  // Files stay on the node that received the upload; their ids say which:
  // "f_", 8 hex digits of the node id's hash, then random digits.
  [[nodiscard]] std::string file_prefix() const;
  // Reader pool of the node that stores the file (this node's for ids
  // without a node's digits); null when that node is not live.
  [[nodiscard]] api::reader_service file_home(const std::string& file_id) const;
  // The live members other than the file's home, in the rendezvous order of
  // the file (where its other copies are: docs/REPLICATION.md, "Files").
  [[nodiscard]] std::vector<member_card> file_peers(const std::string& file_id) const;
  // Whether the file's id names a member that is down (rather than no node).
  [[nodiscard]] bool file_home_down(const std::string& file_id) const;

  // Ids that name the node that made them (sessions): `prefix`, 8 hex digits
  // of the node id's hash, then random digits.
  [[nodiscard]] std::string tagged_prefix(const std::string& prefix) const;
  // The live member named by such an id; none when no live member is.
  [[nodiscard]] std::optional<member_card> tagged_home(const std::string& id, const std::string& prefix) const;

  // Node id of the owner of a room, and whether that is this node.
  [[nodiscard]] std::string room_owner(const api::room_id& id) const;
  [[nodiscard]] bool owns_room(const api::room_id& id) const { return room_owner(id) == self_.id; }
  // Which of `ids` would own the room were they the live members.
  [[nodiscard]] static std::string room_owner_among(const api::room_id& id, const std::vector<std::string>& ids);
  // The copy set of a room made here now: this node, then the next members
  // (down ones too) in the room's rendezvous order, `n` in all at most.
  [[nodiscard]] std::vector<std::string> fresh_room_copies(const api::room_id& id, std::size_t n) const;

 private:
  [[nodiscard]] const member_card& owner(const view& v, const std::string& key) const;

  member_card self_;
  api::pusher_actor pusher_;
  std::atomic<std::shared_ptr<const view>> view_;
};

}  // namespace confab::cluster
