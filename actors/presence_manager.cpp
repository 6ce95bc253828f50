#include "actors/presence_manager.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "actors/presence.hpp"
#include "api/atoms.hpp"

namespace confab::actors {

namespace {

using self_ptr = probed<presence_manager_state>*;

caf::actor& route(self_ptr self, const api::user_id& id) {
  return self->state.live
      .route(id,
             [&](auto& e) {
               e.actor = self->spawn<caf::linked>(presence_actor, id, self->state.ctx, caf::actor{self});
               if (auto seen = self->state.ctx->db->last_seen(id))
                 e.last_seen = *seen;
             })
      .actor;
}

}  // namespace

void query_presence(caf::event_based_actor* self, const cluster::placement& place, std::vector<api::user_id> users,
                    std::function<void(const std::vector<std::string>&)> done) {
  struct gather {
    std::vector<std::string> out;
    std::size_t pending = 0;
    std::function<void(const std::vector<std::string>&)> done;
  };
  auto g = std::make_shared<gather>();
  g->out.assign(users.size(), presence_json("offline", 0));
  g->done = std::move(done);
  // Owner -> the users it answers for, with their positions.
  std::vector<std::pair<caf::actor, std::pair<std::vector<std::size_t>, std::vector<api::user_id>>>> asks;
  for (std::size_t i = 0; i < users.size(); ++i) {
    auto owner = place.presence(users[i]);
    auto it = std::find_if(asks.begin(), asks.end(), [&](auto& a) { return a.first == owner; });
    if (it == asks.end()) {
      asks.push_back({owner, {}});
      it = std::prev(asks.end());
    }
    it->second.first.push_back(i);
    it->second.second.push_back(users[i]);
  }
  g->pending = asks.size();
  if (asks.empty())
    return g->done(g->out);
  for (auto& [owner, part] : asks) {
    auto at = part.first;
    auto finish = [g] {
      if (--g->pending == 0)
        g->done(g->out);
    };
    self->request(owner, std::chrono::seconds(5), api::get_atom::value, part.second)
        .then(
            [g, at, finish](const std::vector<std::string>& presence) {
              for (std::size_t k = 0; k < at.size() && k < presence.size(); ++k)
                g->out[at[k]] = presence[k];
              finish();
            },
            [finish](caf::error&) { finish(); });
  }
}

caf::behavior presence_manager(self_ptr self, context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  self->probe_as(self->state.ctx->actors, "presence_manager", "presence_manager");
  log_stray_errors(self, "presence manager");
  // A presence actor that ended is dropped; any other exit stops us.
  self->set_exit_handler([self](caf::exit_msg& msg) { forget_or_quit(self, self->state.live, msg); });
  return {
      [=](api::session_up_atom a, const api::user_id& id, const std::string& name, const caf::actor& hub) {
        return self->delegate(route(self, id), a, id, name, hub);
      },
      [=](api::status_atom a, const api::user_id& id, const std::string& status) {
        return self->delegate(route(self, id), a, id, status);
      },
      [=](api::watch_atom a, const api::user_id& id, const caf::actor& hub) {
        return self->delegate(route(self, id), a, id, hub);
      },
      [=](api::notify_atom a, const api::user_id& id, const std::string& data) {
        return self->delegate(route(self, id), a, id, data);
      },
      // A presence actor's status changed: keep the snapshot.
      [=](api::status_atom, const api::user_id& id, const std::string& status, std::int64_t last_seen) {
        if (auto* e = self->state.live.find(id)) {
          e->status = status;
          e->last_seen = last_seen;
        }
      },
      [=](api::get_atom, const std::vector<api::user_id>& ids) {
        std::vector<std::string> out;
        out.reserve(ids.size());
        for (auto& id : ids) {
          if (auto* e = self->state.live.find(id)) {
            out.push_back(presence_json(e->status, e->last_seen));
            continue;
          }
          auto seen = self->state.ctx->db->last_seen(id);
          out.push_back(presence_json("offline", seen ? *seen : 0));
        }
        return out;
      },
      // Presence of users another node owns now starts there afresh, when
      // their sessions announce themselves again (see the hub).
      [=](api::view_atom) {
        auto& place = *self->state.ctx->place;
        for (auto& id : self->state.live.ids())
          if (place.presence(id) != caf::actor{self})
            if (auto presence = self->state.live.take(id))
              self->send(presence, api::retire_atom::value);
      },
      [=](api::idle_atom, const api::user_id& id, std::uint64_t handled) {
        if (auto presence = self->state.live.take_idle(id, handled))
          self->send(presence, api::retire_atom::value);
      },
  };
}

}  // namespace confab::actors
