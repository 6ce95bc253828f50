#include "actors/hub.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>

#include "api/atoms.hpp"
#include "api/metrics.hpp"
#include "api/probe.hpp"

namespace confab::actors {

void hub_state::subscribe(const caf::actor_addr& session, const api::user_id& user, api::sink_ptr sink) {
  sessions[session] = session_entry{user, std::move(sink), false, {}};
  auto [it, fresh] = users.try_emplace(user);
  it->second.sessions.push_back(session);
  if (fresh)
    unknown_users.insert(user);
}

void hub_state::ready(const caf::actor_addr& session, const std::vector<api::room_id>& rooms,
                      const std::vector<api::seq_t>& last_seqs) {
  auto s = sessions.find(session);
  if (s == sessions.end() || s->second.ready)
    return;
  auto& entry = s->second;
  auto& u = users[entry.user];
  if (!u.known) {
    u.known = true;
    unknown_users.erase(entry.user);
    for (auto& room : rooms)
      apply_membership(u, entry.user, room, true);
    for (auto& [room, joined] : u.pending_changes)
      apply_membership(u, entry.user, room, joined);
    u.pending_changes.clear();
  }
  std::unordered_map<api::room_id, api::seq_t> read_up_to;
  for (std::size_t i = 0; i < rooms.size() && i < last_seqs.size(); ++i)
    read_up_to[rooms[i]] = last_seqs[i];
  entry.ready = true;
  auto sink = entry.sink.lock();
  for (auto& p : entry.pending) {
    bool for_user = p.room.empty();
    if (!for_user && u.rooms.count(p.room) == 0)
      continue;
    auto it = read_up_to.find(p.room);
    if (p.seq != 0 && it != read_up_to.end() && p.seq <= it->second)
      continue;  // the session's read already covers it
    if (!sink)
      continue;
    sink->send_text(p.event);
    if (p.seq != 0)
      api::node_metrics().messages_delivered.fetch_add(1, std::memory_order_relaxed);
  }
  entry.pending.clear();
  entry.pending.shrink_to_fit();
}

void hub_state::remove(const caf::actor_addr& session) {
  auto it = sessions.find(session);
  if (it == sessions.end())
    return;
  auto user = it->second.user;
  sessions.erase(it);
  auto& u = users[user];
  auto& list = u.sessions;
  list.erase(std::remove(list.begin(), list.end(), session), list.end());
  if (!list.empty())
    return;
  // The user's last local session is gone: forget their rooms here.
  for (auto& room : u.rooms) {
    auto ru = room_users.find(room);
    if (ru == room_users.end())
      continue;
    ru->second.erase(user);
    if (ru->second.empty())
      room_users.erase(ru);
  }
  users.erase(user);
  unknown_users.erase(user);
}

void hub_state::apply_membership(user_entry& u, const api::user_id& user, const api::room_id& room, bool joined) {
  if (joined) {
    u.rooms.insert(room);
    room_users[room].insert(user);
    return;
  }
  u.rooms.erase(room);
  if (auto ru = room_users.find(room); ru != room_users.end()) {
    ru->second.erase(user);
    if (ru->second.empty())
      room_users.erase(ru);
  }
}

void hub_state::set_membership(const api::room_id& room, const api::user_id& user, bool joined) {
  auto it = users.find(user);
  if (it == users.end())
    return;  // only users with sessions here are tracked
  if (it->second.known)
    apply_membership(it->second, user, room, joined);
  else
    it->second.pending_changes.emplace_back(room, joined);
}

void hub_state::to_session(session_entry& s, const api::room_id& room, api::seq_t seq, const api::shared_text& event) {
  if (s.ready) {
    if (auto sink = s.sink.lock()) {
      sink->send_text(event);
      if (seq != 0)  // a message (other room events carry no seq)
        api::node_metrics().messages_delivered.fetch_add(1, std::memory_order_relaxed);
    }
    return;
  }
  if (s.pending.size() < max_pending) {
    s.pending.push_back({room, seq, event});
    return;
  }
  if (auto sink = s.sink.lock())
    sink->close(1008, "too many events before the session was ready");
}

void hub_state::deliver(const api::room_id& room, api::seq_t seq, const api::user_id& except,
                        const api::shared_text& event) {
  if (auto ru = room_users.find(room); ru != room_users.end())
    for (auto& user : ru->second)
      if (user != except)
        for (auto& session : users[user].sessions)
          to_session(sessions.at(session), room, seq, event);
  // Users whose rooms are not known yet keep everything until they are.
  for (auto& user : unknown_users)
    if (user != except)
      for (auto& session : users[user].sessions)
        to_session(sessions.at(session), room, seq, event);
}

void hub_state::deliver_user(const api::user_id& user, const api::shared_text& event) {
  auto it = users.find(user);
  if (it == users.end())
    return;
  for (auto& session : it->second.sessions)
    to_session(sessions.at(session), api::room_id{}, 0, event);
}

bool hub_state::wants(const api::room_id& room) const {
  return room_users.count(room) > 0 || !unknown_users.empty();
}

namespace {

using self_ptr = hub_self*;

// Sends xs to every session actor of `user` on this node.
template <class... Ts>
void to_sessions_of(self_ptr self, const api::user_id& user, const Ts&... xs) {
  if (auto it = self->state.users.find(user); it != self->state.users.end())
    for (auto& session : it->second.sessions)
      self->send(caf::actor_cast<api::session_actor>(session), xs...);
}

api::shared_text share(std::string& text) {
  return std::make_shared<const std::string>(std::move(text));
}

// A room event; a hub with nobody in the room tells the room to stop sending.
// See api::fill_node_status.
std::vector<std::uint64_t> node_stats(const node_context& ctx) {
  auto& m = api::node_metrics();
  auto counts = ctx.actors->counts();
  auto count = [&](const std::string& kind) {
    auto it = counts.find(kind);
    return it == counts.end() ? std::uint64_t{0} : it->second;
  };
  std::vector<std::uint64_t> out{count("room"),    m.room_events.load(), m.remote_copies.load(),
                                 count("session"), count("presence"),    m.messages_in.load()};
  for (auto& kind : api::actor_kinds())
    out.push_back(count(kind));
  return out;
}

void on_event(self_ptr self, const api::room_id& room, api::seq_t seq, const api::user_id& except,
              std::uint64_t generation, const api::shared_text& event) {
  if (!self->state.wants(room)) {
    if (auto sender = caf::actor_cast<caf::actor>(self->current_sender()))
      api::tell(self, sender, api::uninterest_atom::value, room, caf::actor_cast<caf::actor>(self), generation);
    return;
  }
  self->state.deliver(room, seq, except, event);
}

// Membership changed: the owners of the rooms of our users may be other
// nodes now, and presence may live elsewhere; both hear from us again.
void on_view(self_ptr self) {
  auto& st = self->state;
  auto& place = *st.ctx->place;
  // A node that (re)joined: the rooms it holds for our users, which their
  // sessions may not have seen (it was down when they read their rooms),
  // are added, and its readers register this hub for their events.
  auto view = place.current();
  std::unordered_set<std::string> now_live;
  for (auto& m : view->live) {
    now_live.insert(m.id);
    if (st.live_nodes.count(m.id) > 0 || m.id == place.node_id())
      continue;
    for (auto& [user, entry] : st.users) {
      if (!entry.known)
        continue;
      auto id = user;
      self->request(m.readers, std::chrono::seconds(10), api::my_rooms_atom::value, id,
                    caf::actor_cast<caf::actor>(self), true)
          .then(
              [self, id](const std::vector<api::my_room>& rooms) {
                for (auto& r : rooms)
                  self->state.set_membership(r.room.id, id, true);
              },
              [](caf::error&) {});  // asked again when that node next joins
    }
  }
  // Rooms whose owner changed, or is a node that (re)joined, may be held
  // where this hub is not registered yet; the others keep their registration.
  std::vector<std::string> before(st.live_nodes.begin(), st.live_nodes.end());
  for (auto& [room, users] : st.room_users) {
    auto owner = place.room_owner(room);
    bool same = st.live_nodes.count(owner) > 0 && cluster::placement::room_owner_among(room, before) == owner;
    if (!same)
      self->request(place.room(room), std::chrono::seconds(10), api::interest_atom::value, room,
                    caf::actor_cast<caf::actor>(self))
          .then([] {}, [](caf::error&) {});  // a room on a node that is down: it asks again on the next change
  }
  st.live_nodes = std::move(now_live);
  for (auto& [addr, entry] : st.sessions)
    if (entry.ready)
      self->send(caf::actor_cast<api::session_actor>(addr), api::view_atom::value);
}

}  // namespace

api::hub_actor::behavior_type hub_actor(self_ptr self, context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  self->probe_as(self->state.ctx->actors, "hub", "hub");
  api::log_stray_errors(self, "hub");
  self->set_down_handler([self](caf::down_msg& msg) { self->state.remove(msg.source); });
  return {
      [=](api::subscribe_atom, const api::user_id& user, api::sink_ptr sink) {
        auto session = caf::actor_cast<caf::actor_addr>(self->current_sender());
        if (!session)
          return;
        if (self->state.shutting_down) {
          if (auto s = sink.lock())
            s->close(4000, "node shutting down");
          return;
        }
        self->monitor(session);
        self->state.subscribe(session, user, std::move(sink));
      },
      [=](api::ready_atom, const std::vector<api::room_id>& rooms, const std::vector<api::seq_t>& last_seqs) {
        self->state.ready(caf::actor_cast<caf::actor_addr>(self->current_sender()), rooms, last_seqs);
      },
      [=](api::event_atom, const api::room_id& room, api::seq_t seq, const api::user_id& except,
          std::uint64_t generation,
          const api::shared_text& event) { on_event(self, room, seq, except, generation, event); },
      [=](api::event_atom, const api::room_id& room, api::seq_t seq, const api::user_id& except,
          std::uint64_t generation,
          std::string& event) { on_event(self, room, seq, except, generation, share(event)); },
      // A session that ended before the event arrived from another node is
      // null here (and CAF's hash of a null address crashes): dropped.
      [=](api::session_event_atom, const caf::actor_addr& session, const api::shared_text& event) {
        if (!session)
          return;
        if (auto it = self->state.sessions.find(session); it != self->state.sessions.end())
          self->state.to_session(it->second, api::room_id{}, 0, event);
      },
      [=](api::session_event_atom, const caf::actor_addr& session, std::string& event) {
        if (!session)
          return;
        if (auto it = self->state.sessions.find(session); it != self->state.sessions.end())
          self->state.to_session(it->second, api::room_id{}, 0, share(event));
      },
      [=](api::user_event_atom, const api::user_id& user, std::string& event) {
        self->state.deliver_user(user, share(event));
      },
      [=](api::view_atom) { on_view(self); },
      [=](api::stats_atom) { return node_stats(*self->state.ctx); },
      // A direct room was made: the two users' sessions here watch each other.
      [=](api::dm_atom, const api::user_id& a, const api::user_id& b) {
        for (auto [user, partner] : {std::pair{a, b}, std::pair{b, a}})
          if (auto it = self->state.users.find(user); it != self->state.users.end())
            for (auto& session : it->second.sessions)
              self->send(caf::actor_cast<api::session_actor>(session), api::watch_atom::value, partner);
      },
      [=](api::user_event_atom, const api::user_id& user, const api::shared_text& event) {
        self->state.deliver_user(user, event);
      },
      // A token of `user` was revoked (a logout), or every token issued before
      // `valid_after` but `keep_jti` (a password change): the user's sessions
      // here check theirs.
      [=](api::revoke_atom, const api::user_id& user, const std::string& jti) {
        to_sessions_of(self, user, api::revoke_atom::value, jti);
      },
      [=](api::revoke_atom, const api::user_id& user, std::int64_t valid_after, const std::string& keep_jti) {
        to_sessions_of(self, user, api::revoke_atom::value, valid_after, keep_jti);
      },
      [=](api::membership_atom, const api::room_id& room, const api::user_id& user, bool joined) {
        self->state.set_membership(room, user, joined);
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
