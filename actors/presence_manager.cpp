#include "actors/presence_manager.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "actors/presence.hpp"
#include "api/atoms.hpp"
#include "api/probe.hpp"
#include "cluster/scatter.hpp"
#include "wire/events.hpp"

namespace confab::actors {

namespace {

using self_ptr = presence_manager_self*;

api::presence_actor& route(self_ptr self, const api::user_id& id) {
  return self->state.live
      .route(id,
             [&](auto& e) {
               e.actor = self->spawn<caf::linked>(presence_actor, id, self->state.ctx, self->state.user_db,
                                                  presence_reports{self});
               if (auto seen = self->state.user_db.last_seen(id))
                 e.last_seen = *seen;
             })
      .actor;
}

}  // namespace

presence_manager_actor::behavior_type presence_manager(self_ptr self, context_ptr ctx, storage::user_store users) {
  self->state.ctx = std::move(ctx);
  self->state.user_db = std::move(users);
  self->probe_as(self->state.ctx->actors, "presence_manager", "presence_manager");
  api::log_stray_errors(self, "presence manager");
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
      [=](api::get_atom, const std::vector<api::user_id>& ids) -> caf::result<std::vector<std::string>> {
        std::vector<std::string> out;
        out.reserve(ids.size());
        for (auto& id : ids) {
          if (auto* e = self->state.live.find(id)) {
            out.push_back(wire::presence_json(e->status, e->last_seen));
            continue;
          }
          auto seen = self->state.user_db.last_seen(id);
          out.push_back(wire::presence_json("offline", seen ? *seen : 0));
        }
        return out;
      },
      // Presence of users another node owns now starts there afresh, when
      // their sessions announce themselves again (see the hub).
      [=](api::view_atom) {
        auto& place = *self->state.ctx->place;
        for (auto& id : self->state.live.ids())
          if (place.presence(id) != caf::actor_cast<caf::actor>(self))
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
