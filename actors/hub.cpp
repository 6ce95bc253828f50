#include "actors/hub.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/api/atoms.hpp"

namespace confab::actors {

void hub_state::add(const caf::actor_addr& session, const api::user_id& user, api::sink_ptr sink,
                    const std::vector<api::room_id>& rooms) {
  sessions[session] = session_entry{user, std::move(sink)};
  by_user[user].push_back(session);
  for (auto& room : rooms)
    set_membership(room, user, true);
}

void hub_state::remove(const caf::actor_addr& session) {
  auto it = sessions.find(session);
  if (it == sessions.end())
    return;
  auto user = it->second.user;
  sessions.erase(it);
  auto& list = by_user[user];
  list.erase(std::remove(list.begin(), list.end(), session), list.end());
  if (!list.empty())
    return;
  by_user.erase(user);
  // The user's last local session is gone: forget their rooms here.
  if (auto ur = user_rooms.find(user); ur != user_rooms.end()) {
    for (auto& room : ur->second) {
      auto ru = room_users.find(room);
      if (ru == room_users.end())
        continue;
      ru->second.erase(user);
      if (ru->second.empty())
        room_users.erase(ru);
    }
    user_rooms.erase(ur);
  }
}

void hub_state::set_membership(const api::room_id& room, const api::user_id& user, bool joined) {
  if (joined) {
    if (!online(user))
      return;  // only users with sessions here are tracked
    room_users[room].insert(user);
    user_rooms[user].insert(room);
    return;
  }
  if (auto ru = room_users.find(room); ru != room_users.end()) {
    ru->second.erase(user);
    if (ru->second.empty())
      room_users.erase(ru);
  }
  if (auto ur = user_rooms.find(user); ur != user_rooms.end())
    ur->second.erase(room);
}

void hub_state::deliver(const api::room_id& room, const api::shared_text& event) const {
  auto ru = room_users.find(room);
  if (ru == room_users.end())
    return;
  for (auto& user : ru->second)
    deliver_user(user, event);
}

void hub_state::deliver_user(const api::user_id& user, const api::shared_text& event) const {
  auto bu = by_user.find(user);
  if (bu == by_user.end())
    return;
  for (auto& session : bu->second)
    if (auto sink = sessions.at(session).sink.lock())
      sink->send_text(event);
}

caf::behavior hub_actor(caf::stateful_actor<hub_state>* self) {
  self->set_down_handler([self](caf::down_msg& msg) { self->state.remove(msg.source); });
  return {
      [=](api::subscribe_atom, const api::user_id& user, api::sink_ptr sink, const std::vector<api::room_id>& rooms) {
        auto session = caf::actor_cast<caf::actor_addr>(self->current_sender());
        if (!session)
          return;
        if (self->state.shutting_down) {
          if (auto s = sink.lock())
            s->close(4000, "node shutting down");
          return;
        }
        self->monitor(session);
        self->state.add(session, user, std::move(sink), rooms);
      },
      [=](api::event_atom, const api::room_id& room, const api::shared_text& event) {
        self->state.deliver(room, event);
      },
      [=](api::user_event_atom, const api::user_id& user, const api::shared_text& event) {
        self->state.deliver_user(user, event);
      },
      [=](api::membership_atom, const api::room_id& room, const api::user_id& user, bool joined) {
        self->state.set_membership(room, user, joined);
      },
      [=](api::online_atom, const std::vector<api::user_id>& users) {
        std::vector<api::user_id> out;  // the subset that has sessions here
        for (auto& u : users)
          if (self->state.online(u))
            out.push_back(u);
        return out;
      },
      // Closes every local socket with 4000 (reconnect elsewhere).
      [=](api::shutdown_atom) {
        self->state.shutting_down = true;
        for (auto& [addr, entry] : self->state.sessions)
          if (auto sink = entry.sink.lock())
            sink->close(4000, "node shutting down");
      },
  };
}

}  // namespace confab::actors
