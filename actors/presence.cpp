#include "actors/presence.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/fanout.hpp"
#include "actors/idle.hpp"
#include "api/atoms.hpp"
#include "api/clock.hpp"
#include "api/errors.hpp"
#include "wire/codec.hpp"
#include "wire/events.hpp"

namespace confab::actors {

std::string presence_state::json() const {
  return wire::presence_json(status(), last_seen);
}

bool presence_state::session_up(const caf::actor_addr& session, const caf::actor& hub) {
  bool was_offline = sessions.empty();
  sessions[session] = hub;
  if (was_offline)
    chosen = "online";  // away and dnd last until the last session ends
  return was_offline;
}

bool presence_state::session_down(const caf::actor_addr& session, std::int64_t now) {
  if (sessions.erase(session) == 0 || !sessions.empty())
    return false;
  last_seen = now;
  return true;
}

bool presence_state::choose(const std::string& s) {
  bool changed = !sessions.empty() && s != chosen;
  chosen = s;
  return changed;
}

namespace {

using self_ptr = presence_self*;

// Tells the watchers (one shared buffer) and the manager's snapshot.
void changed(self_ptr self, const presence_reports& manager) {
  auto& st = self->state;
  auto event = wire::shared_event("presence", wire::presence_event_json(st.username, st.status(), st.last_seen));
  for (auto& [session, hub] : st.watchers)
    send_text(self, hub, api::session_event_atom::value, event, session);
  self->send(manager, api::status_atom::value, st.user, st.status(), st.last_seen);
}

void notify(self_ptr self, const std::string& data) {
  auto& st = self->state;
  if (!st.sessions.empty()) {
    // One copy per node with a session of the user.
    auto event = wire::shared_event("notification", data);
    std::vector<caf::actor> hubs;
    for (auto& [session, hub] : st.sessions)
      if (std::find(hubs.begin(), hubs.end(), hub) == hubs.end())
        hubs.push_back(hub);
    for (auto& hub : hubs)
      send_text(self, hub, api::user_event_atom::value, event, st.user);
    return;
  }
  if (auto pusher = st.ctx->place->pusher())
    api::tell(self, pusher, api::push_atom::value, wire::push_json(st.username, data));
}

}  // namespace

// The admin view's detail line.
void probe_presence(self_ptr self) {
  auto& st = self->state;
  auto& p = self->probe();
  p.n1.store(st.sessions.size(), std::memory_order_relaxed);
  p.n2.store(st.watchers.size(), std::memory_order_relaxed);
  p.set_text(st.user.value, "user=" + st.username + " status=" + st.status());
}

api::presence_actor::behavior_type presence_actor(self_ptr self, api::user_id user, context_ptr ctx,
                                                  storage::user_store users, presence_reports manager) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.user_db = std::move(users);
  st.user = user;
  if (auto u = st.user_db.user(user))
    st.username = u->info.username;
  if (auto seen = st.user_db.last_seen(user))
    st.last_seen = *seen;
  self->probe_as(st.ctx->actors, "presence", user.value);
  probe_presence(self);
  self->set_down_handler([self, manager](caf::down_msg& msg) {
    auto& st = self->state;
    st.watchers.erase(msg.source);
    auto visible = st.session_down(msg.source, api::now_ms());
    probe_presence(self);
    if (!visible)
      return;
    // Deliberately ignored: a failed write loses only the stored time of this
    // session's end; the status change itself still goes out.
    [[maybe_unused]] auto ignored = st.user_db.set_last_seen(st.user, st.last_seen);
    changed(self, manager);
  });
  start_idle_ticks(self, std::chrono::milliseconds(st.ctx->lim.room_idle_ms));
  auto sender = [self] { return caf::actor_cast<caf::actor_addr>(self->current_sender()); };
  return {
      [=](api::session_up_atom, const api::user_id&, const std::string&, const caf::actor& hub) {
        ++self->state.handled;
        auto session = sender();
        self->monitor(session);
        auto visible = self->state.session_up(session, hub);
        probe_presence(self);
        if (visible)
          changed(self, manager);
      },
      [=](api::status_atom, const api::user_id&, const std::string& status) {
        ++self->state.handled;
        if (!self->state.choose(status))
          return;
        probe_presence(self);
        changed(self, manager);
      },
      [=](api::watch_atom, const api::user_id&, const caf::actor& hub) {
        ++self->state.handled;
        auto session = sender();
        self->monitor(session);
        self->state.watchers[session] = hub;
        probe_presence(self);
        return self->state.json();
      },
      [=](api::notify_atom, const api::user_id&, const std::string& data) {
        ++self->state.handled;
        notify(self, data);
      },
      [=](api::retire_atom) { self->quit(); },
      [=](api::tick_atom) {
        auto& st = self->state;
        idle_tick(self, std::chrono::milliseconds(st.ctx->lim.room_idle_ms), st.handled, st.handled_at_tick, [&] {
          if (st.idle())
            self->send(manager, api::idle_atom::value, st.user, st.handled);
        });
      },
  };
}

}  // namespace confab::actors
