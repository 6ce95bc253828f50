#include "actors/room_manager.hpp"

#include <openssl/sha.h>
#include <caf/event_based_actor.hpp>

#include "actors/api/atoms.hpp"
#include "actors/api/errors.hpp"
#include "actors/room.hpp"

namespace confab::actors {

using api::errc;
using api::fail;

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

api::room_id room_of(const caf::message& msg) {
  if (msg.size() < 2 || !msg.match_element<caf::atom_value>(0))
    return {};
  auto op = msg.get_as<caf::atom_value>(0);
  if (op == api::send_atom::value && msg.match_element<api::send_request>(1))
    return msg.get_as<api::send_request>(1).room;
  if (op == api::history_atom::value && msg.match_element<api::history_request>(1))
    return msg.get_as<api::history_request>(1).room;
  if (op == api::dm_atom::value && msg.size() == 3 && msg.match_element<api::caller>(1) &&
      msg.match_element<api::user_info>(2))
    return dm_room_id(msg.get_as<api::caller>(1).id, msg.get_as<api::user_info>(2).id);
  if (msg.match_element<api::room_id>(1))
    return msg.get_as<api::room_id>(1);
  return {};
}

namespace {

using self_ptr = caf::stateful_actor<room_manager_state>*;
constexpr auto locate_timeout = std::chrono::seconds(2);
// A request passes at most: any node -> owner -> holder.
constexpr std::uint8_t max_hops = 2;

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

bool held_here(self_ptr self, const api::room_id& id) {
  if (self->state.live.find(id) != nullptr)
    return true;
  return static_cast<bool>(self->state.ctx->db->room(id));
}

bool is_query(const caf::message& msg) {
  auto op = msg.get_as<caf::atom_value>(0);
  return op == api::history_atom::value || op == api::members_atom::value;
}

// Serves the request on this node: queries in the reader pool, interest in
// the table, everything else in the room actor.
void serve(self_ptr self, const api::room_id& id, caf::response_promise& rp, caf::message msg) {
  auto op = msg.get_as<caf::atom_value>(0);
  if (op == api::interest_atom::value) {
    if (msg.match_element<caf::actor>(2))
      self->state.ctx->interest->add(id, msg.get_as<caf::actor>(2));
    rp.deliver(caf::unit);
    return;
  }
  if (is_query(msg)) {
    rp.delegate(self->state.ctx->place->reader(), std::move(msg));
    return;
  }
  rp.delegate(route(self, id), std::move(msg));
}

void forward(caf::response_promise& rp, const caf::actor& to, std::uint8_t hops, caf::message msg) {
  if (hops >= max_hops) {
    rp.deliver(fail(errc::unavailable, "the room is moving between nodes; try again"));
    return;
  }
  rp.delegate(to, api::forward_atom::value, static_cast<std::uint8_t>(hops + 1), std::move(msg));
}

// Asks every other live node whether it holds `id`; then runs what waits.
void locate(self_ptr self, const api::room_id& id) {
  auto view = self->state.ctx->place->current();
  struct gather {
    std::size_t pending = 0;
    caf::actor holder;
  };
  auto g = std::make_shared<gather>();
  auto finish = [self, id, view](const caf::actor& holder) {
    auto it = self->state.locating.find(id);
    if (it == self->state.locating.end())
      return;
    auto waiting = std::move(it->second);
    self->state.locating.erase(it);
    if (holder)
      self->state.located[id] = holder;
    for (auto& w : waiting) {
      if (holder)
        forward(w.rp, holder, w.hops, std::move(w.msg));
      else if (!view->down.empty() && w.msg.get_as<caf::atom_value>(0) != api::dm_atom::value)
        w.rp.deliver(fail(errc::unavailable, "the node holding this room may be down; try again"));
      else
        serve(self, id, w.rp, std::move(w.msg));
    }
  };
  for (auto& m : view->live)
    if (m.rooms != caf::actor{self})
      ++g->pending;
  if (g->pending == 0)
    return finish({});
  for (auto& m : view->live) {
    if (m.rooms == caf::actor{self})
      continue;
    auto peer = m.rooms;
    auto done = [g, finish, peer](bool holds) {
      if (holds && !g->holder)
        g->holder = peer;
      if (--g->pending == 0)
        finish(g->holder);
    };
    self->request(peer, locate_timeout, api::holds_atom::value, id)
        .then([=](bool holds) { done(holds); }, [=](caf::error&) { done(false); });
  }
}

// Routes a request about room `id` that has come `hops` nodes so far.
void dispatch(self_ptr self, const api::room_id& id, std::uint8_t hops, caf::message msg) {
  auto rp = self->make_response_promise();
  auto& st = self->state;
  if (id.empty()) {
    rp.deliver(fail(errc::invalid_request, "no room"));
    return;
  }
  if (held_here(self, id))
    return serve(self, id, rp, std::move(msg));
  if (!st.ctx->place->owns_room(id) && hops == 0)
    return forward(rp, st.ctx->place->room(id), hops, std::move(msg));
  if (auto it = st.located.find(id); it != st.located.end())
    return forward(rp, it->second, hops, std::move(msg));
  auto& queue = st.locating[id];
  queue.push_back({rp, std::move(msg), hops});
  if (queue.size() == 1)
    locate(self, id);
}

caf::result<api::room_info> create_room(self_ptr self, const api::caller& who, const std::string& name,
                                        const std::string& topic, const std::string& visibility) {
  auto& ctx = *self->state.ctx;
  // An id this node owns: the room is made and served here, no forwarding.
  api::room_id id{random_id("r_")};
  for (int i = 0; i < 256 && !ctx.place->owns_room(id); ++i)
    id = api::room_id{random_id("r_")};
  api::room_info info{id, name, topic, visibility, "room", now_ms(), who.id};
  if (auto err = ctx.db->put_room(info, {{who.id, "owner"}}))
    return err;
  auto hubs = ctx.place->hubs();
  ctx.interest->add_all(info.id, hubs);
  for (auto& hub : hubs)
    self->send(hub, api::membership_atom::value, info.id, who.id, true);
  return info;
}

}  // namespace

caf::behavior room_manager(self_ptr self, context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  // A room that ended (retired, or failed) is dropped from the directory; the
  // next request activates it again from storage. Any other exit stops us.
  self->set_exit_handler([self](caf::exit_msg& msg) { forget_or_quit(self, self->state.live, msg); });
  auto routed = [self] {
    auto msg = self->current_mailbox_element()->move_content_to_message();
    auto id = room_of(msg);
    dispatch(self, id, 0, std::move(msg));
  };
  return {
      [=](api::create_atom, const api::caller& who, const std::string& name, const std::string& topic,
          const std::string& visibility) { return create_room(self, who, name, topic, visibility); },
      [=](api::send_atom, const api::send_request&) { routed(); },
      [=](api::join_atom, const api::room_id&, const api::caller&) { routed(); },
      [=](api::leave_atom, const api::room_id&, const api::caller&) { routed(); },
      [=](api::invite_atom, const api::room_id&, const api::caller&, const api::user_info&) { routed(); },
      [=](api::typing_atom, const api::room_id&, const api::caller&, bool) { routed(); },
      [=](api::read_atom, const api::room_id&, const api::caller&, api::seq_t) { routed(); },
      [=](api::dm_atom, const api::caller&, const api::user_info&) { routed(); },
      [=](api::history_atom, const api::history_request&) { routed(); },
      [=](api::members_atom, const api::room_id&, const api::user_id&) { routed(); },
      [=](api::admin_atom, const api::room_id&) { routed(); },
      // A hub wants this room's events (after a membership change).
      [=](api::interest_atom, const api::room_id&, const caf::actor&) { routed(); },
      // A request another node sent on.
      [=](api::forward_atom, std::uint8_t hops, caf::message& msg) {
        auto id = room_of(msg);
        dispatch(self, id, hops, std::move(msg));
      },
      [=](api::holds_atom, const api::room_id& id) { return held_here(self, id); },
      [=](api::idle_atom, const api::room_id& id, std::uint64_t handled) {
        if (auto room = self->state.live.take_idle(id, handled))
          self->send(room, api::retire_atom::value);
      },
      [=](api::view_atom) {
        self->state.located.clear();
        self->state.ctx->interest->retain(self->state.ctx->place->hubs());
      },
      [=](api::stats_atom) { return static_cast<std::uint64_t>(self->state.live.size()); },
  };
}

}  // namespace confab::actors
