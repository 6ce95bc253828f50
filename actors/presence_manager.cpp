#include "actors/presence_manager.hpp"

#include <caf/event_based_actor.hpp>

#include "actors/api/atoms.hpp"
#include "actors/presence.hpp"

namespace confab::actors {

namespace {

using self_ptr = caf::stateful_actor<presence_manager_state>*;

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

caf::behavior presence_manager(self_ptr self, context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  // A presence actor that ended is dropped; any other exit stops us.
  self->set_exit_handler([self](caf::exit_msg& msg) { forget_or_quit(self, self->state.live, msg); });
  return {
      [=](api::session_up_atom a, const api::user_id& id, const std::string& name) {
        return self->delegate(route(self, id), a, id, name);
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
      [=](api::idle_atom, const api::user_id& id, std::uint64_t handled) {
        if (auto presence = self->state.live.take_idle(id, handled))
          self->send(presence, api::retire_atom::value);
      },
  };
}

}  // namespace confab::actors
