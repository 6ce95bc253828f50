#pragma once

// Hub: one per node. Knows which local sessions belong to which users and
// which of those users are in which rooms; receives one copy of each room
// event per node and writes the shared buffer to every local session of
// every member. Holds only weak references to connections.

#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/api/messages.hpp"
#include "actors/api/sinks.hpp"

namespace confab::actors {

struct hub_state {
  static inline const char* name = "confab.hub";

  struct session_entry {
    api::user_id user;
    api::sink_ptr sink;
  };
  std::unordered_map<caf::actor_addr, session_entry> sessions;
  std::unordered_map<api::user_id, std::vector<caf::actor_addr>> by_user;
  std::unordered_map<api::room_id, std::unordered_set<api::user_id>> room_users;
  std::unordered_map<api::user_id, std::unordered_set<api::room_id>> user_rooms;
  bool shutting_down = false;

  void add(const caf::actor_addr& session, const api::user_id& user, api::sink_ptr sink,
           const std::vector<api::room_id>& rooms);
  void remove(const caf::actor_addr& session);
  void set_membership(const api::room_id& room, const api::user_id& user, bool joined);
  void deliver(const api::room_id& room, const api::shared_text& event) const;
  void deliver_user(const api::user_id& user, const api::shared_text& event) const;
  [[nodiscard]] bool online(const api::user_id& user) const { return by_user.count(user) > 0; }
};

caf::behavior hub_actor(caf::stateful_actor<hub_state>* self);

}  // namespace confab::actors
