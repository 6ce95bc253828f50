#include "actors/room_manager.hpp"

#include <openssl/sha.h>
#include <caf/event_based_actor.hpp>

#include "actors/api/atoms.hpp"
#include "actors/api/errors.hpp"
#include "actors/room.hpp"

namespace confab::actors {

using api::errc;

api::room_id dm_room_id(const api::user_id& a, const api::user_id& b) {
  auto key = a < b ? a.value + ":" + b.value : b.value + ":" + a.value;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string id = "d_";
  for (int i = 0; i < 8; ++i) {
    id.push_back(hex[digest[i] >> 4]);
    id.push_back(hex[digest[i] & 0xf]);
  }
  return api::room_id{id};
}

namespace {

using self_ptr = caf::stateful_actor<room_manager_state>*;

// The live room actor of `id`, spawned on first use; counts one delegation.
caf::actor& route(self_ptr self, const api::room_id& id) {
  return self->state.live
      .route(id,
             [&](auto& e) {
               // Linked: rooms stop with the manager.
               e.actor = self->spawn<caf::linked>(room_actor, id, self->state.ctx, caf::actor{self});
             })
      .actor;
}

caf::result<api::room_info> create_room(self_ptr self, const api::caller& who, const std::string& name,
                                        const std::string& topic, const std::string& visibility) {
  auto& ctx = *self->state.ctx;
  api::room_info info{api::room_id{random_id("r_")}, name, topic, visibility, "room", now_ms(), who.id};
  if (auto err = ctx.db->put_room(info, {{who.id, "owner"}}))
    return err;
  for (auto& hub : ctx.place->hubs())
    self->send(hub, api::membership_atom::value, info.id, who.id, true);
  return info;
}

}  // namespace

caf::behavior room_manager(self_ptr self, context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  // A room that ended (retired, or failed) is dropped from the directory; the
  // next request activates it again from storage. Any other exit stops us.
  self->set_exit_handler([self](caf::exit_msg& msg) { forget_or_quit(self, self->state.live, msg); });
  return {
      [=](api::create_atom, const api::caller& who, const std::string& name, const std::string& topic,
          const std::string& visibility) { return create_room(self, who, name, topic, visibility); },
      [=](api::send_atom a, api::send_request& req) {
        auto& room = route(self, req.room);
        return self->delegate(room, a, std::move(req));
      },
      [=](api::join_atom a, const api::room_id& id, const api::caller& who) {
        return self->delegate(route(self, id), a, id, who);
      },
      [=](api::leave_atom a, const api::room_id& id, const api::caller& who) {
        return self->delegate(route(self, id), a, id, who);
      },
      [=](api::invite_atom a, const api::room_id& id, const api::caller& who, const api::user_info& invitee) {
        return self->delegate(route(self, id), a, id, who, invitee);
      },
      [=](api::typing_atom a, const api::room_id& id, const api::caller& who, bool active) {
        return self->delegate(route(self, id), a, id, who, active);
      },
      [=](api::read_atom a, const api::room_id& id, const api::caller& who, api::seq_t seq) {
        return self->delegate(route(self, id), a, id, who, seq);
      },
      [=](api::dm_atom a, const api::caller& who, const api::user_info& other) {
        return self->delegate(route(self, dm_room_id(who.id, other.id)), a, who, other);
      },
      [=](api::idle_atom, const api::room_id& id, std::uint64_t handled) {
        if (auto room = self->state.live.take_idle(id, handled))
          self->send(room, api::retire_atom::value);
      },
  };
}

}  // namespace confab::actors
