#include "actors/room_manager.hpp"
#include "actors/room_manager_parts.hpp"

#include <openssl/sha.h>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <caf/event_based_actor.hpp>

#include "actors/room.hpp"
#include "api/atoms.hpp"
#include "api/clock.hpp"
#include "api/errors.hpp"
#include "api/hex.hpp"
#include "api/metrics.hpp"
#include "api/probe.hpp"

namespace confab::actors {

using api::errc;
using api::fail;

api::room_id dm_room_id(const api::user_id& a, const api::user_id& b) {
  auto key = a < b ? a.value + ":" + b.value : b.value + ":" + a.value;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  return api::room_id{"d_" + api::to_hex(digest, 8)};
}

using namespace rooms;

namespace {

caf::result<api::room_info> create_room(self_ptr self, const api::caller& who, const std::string& name,
                                        const std::string& topic, const std::string& visibility, bool encrypted) {
  auto& ctx = *self->state.ctx;
  // An id this node owns: the room is made and served here, no forwarding.
  api::room_id id{api::random_id("r_")};
  for (int i = 0; i < 256 && !ctx.place->owns_room(id); ++i)
    id = api::room_id{api::random_id("r_")};
  api::room_info info{id, name, topic, visibility, "room", api::now_ms(), who.id, encrypted};
  if (replicated(self)) {
    auto rp = self->make_response_promise<api::room_info>();
    serve_owned(self, id, rp, caf::make_message(api::create_atom::value, info), fresh_copies(self, id));
    return rp;
  }
  if (auto err = self->state.stores.rooms.put_room(info, {{who.id, "owner"}}))
    return err;
  auto hubs = ctx.place->hubs();
  ctx.interest->add_all(info.id, hubs);
  for (auto& hub : hubs)
    api::tell(self, hub, api::membership_atom::value, info.id, who.id, true);
  return info;
}

}  // namespace

room_manager_actor::behavior_type room_manager(self_ptr self, context_ptr ctx, room_stores stores) {
  self->state.ctx = std::move(ctx);
  self->state.stores = std::move(stores);
  self->probe_as(self->state.ctx->actors, "room_manager", "room_manager");
  // A room that ended (retired, or failed) is dropped from the directory; the
  // next request activates it again from storage. Any other exit stops us.
  self->set_exit_handler([self](caf::exit_msg& msg) { forget_or_quit(self, self->state.live, msg); });
  api::log_stray_errors(self, "room manager");
  // A request about room `id`, routed as it came: the room's actor (or
  // reader) answers it.
  auto routed = [self](api::room_id id) {
    auto msg = self->current_mailbox_element()->move_content_to_message();
    auto rp = self->make_response_promise();
    dispatch(self, id, 0, rp, std::move(msg));
    return rp;
  };
  return {
      [=](api::create_atom a, const api::caller& who, const std::string& name, const std::string& topic,
          const std::string& visibility, bool encrypted) -> caf::result<api::room_info> {
        // A draining node owns no room id: a node that does makes the room.
        if (!self->state.ctx->place->is_owner()) {
          auto rp = self->make_response_promise();
          rp.delegate(self->state.ctx->place->room(api::room_id{api::random_id("r_")}), a, who, name, topic, visibility,
                      encrypted);
          return rp;
        }
        return create_room(self, who, name, topic, visibility, encrypted);
      },
      [=](api::send_atom, const api::send_request& req) -> caf::result<api::send_ack> { return routed(req.room); },
      [=](api::join_atom, const api::room_id& id, const api::caller&) -> caf::result<api::room_info> {
        return routed(id);
      },
      [=](api::leave_atom, const api::room_id& id, const api::caller&) -> caf::result<void> { return routed(id); },
      [=](api::invite_atom, const api::room_id& id, const api::caller&, const api::user_info&) -> caf::result<void> {
        return routed(id);
      },
      [=](api::typing_atom, const api::room_id& id, const api::caller&, bool) -> caf::result<void> {
        return routed(id);
      },
      [=](api::read_atom, const api::room_id& id, const api::caller&,
          api::seq_t) -> caf::result<api::seq_t, api::seq_t> { return routed(id); },
      [=](api::dm_atom, const api::caller& a, const api::user_info& b, bool) -> caf::result<api::room_info> {
        return routed(dm_room_id(a.id, b.id));
      },
      [=](api::history_atom, const api::history_request& req) -> caf::result<api::history_page> {
        return routed(req.room);
      },
      [=](api::thread_atom, const api::history_request& req,
          api::seq_t) -> caf::result<std::string, api::history_page> { return routed(req.room); },
      [=](api::members_atom, const api::room_id& id,
          const api::user_id&) -> caf::result<std::vector<api::member_entry>> { return routed(id); },
      [=](api::members_atom, const api::room_id& id, const api::user_id&,
          bool) -> caf::result<std::vector<api::member_entry>> { return routed(id); },
      [=](api::admin_atom, const api::room_id& id) -> caf::result<api::room_admin> { return routed(id); },
      [=](api::edit_atom, const api::room_id& id, const api::caller&, api::seq_t, const std::string&,
          const std::string&) -> caf::result<std::string> { return routed(id); },
      [=](api::delete_atom, const api::room_id& id, const api::caller&, api::seq_t) -> caf::result<std::string> {
        return routed(id);
      },
      [=](api::react_atom, const api::room_id& id, const api::caller&, api::seq_t, const std::string&,
          bool) -> caf::result<std::string> { return routed(id); },
      // A hub wants this room's events (after a membership change).
      [=](api::interest_atom, const api::room_id& id, const caf::actor&) -> caf::result<void> { return routed(id); },
      // A request another node sent on.
      [=](api::forward_atom, std::uint8_t hops, const api::room_id& id,
          caf::message& msg) -> caf::result<caf::message> {
        auto rp = self->make_response_promise();
        dispatch(self, id, hops, rp, std::move(msg));
        return rp;
      },
      // Whether this node has the room (held, moving away, or fenced).
      [=](api::holds_atom, const api::room_id& id) {
        auto& st = self->state;
        return st.live.find(id) != nullptr || st.moving.count(id) > 0 || static_cast<bool>(st.stores.rooms.room(id)) ||
               (replicated(self) && static_cast<bool>(copy_set(self, id)));
      },
      [=](api::handoff_atom, api::room_piece& piece) { return receive_piece(self, piece); },
      [=](api::handoff_atom, const api::room_id& id) { incoming_expired(self, id); },
      [=](api::idle_atom, const api::room_id& id, std::uint64_t handled) {
        if (auto room = self->state.live.take_idle(id, handled))
          self->send(room, api::retire_atom::value);
      },
      [=](api::view_atom) {
        auto& st = self->state;
        st.located.clear();
        st.ctx->interest->retain(st.ctx->place->hubs());
        if (!replicated(self))
          return plan_moves(self);
        // Replicated rooms stay where their copies are: each copy hears
        // which of the others it can reach now.
        auto peers = peers_of(self);
        for (auto& [id, copy] : st.replicas)
          api::tell(self, copy.actor, api::peers_atom::value, peers);
        find_repairs(self);
      },
      // Between the copies of a room (actors/replica.hpp): to this node's
      // copy, started for a room it has not held yet.
      [=](api::prepare_atom, const api::room_id& id, std::vector<std::string>& copies,
          const cluster::replication::epoch&) -> caf::result<cluster::replication::prepare_reply> {
        return to_copy(self, id, std::move(copies));
      },
      [=](api::append_atom, const api::room_id& id, std::vector<std::string>& copies,
          const cluster::replication::append_request&) -> caf::result<cluster::replication::append_reply> {
        return to_copy(self, id, std::move(copies));
      },
      [=](api::fetch_atom, const api::room_id& id, const cluster::replication::epoch&, std::uint64_t,
          std::uint64_t) -> caf::result<std::vector<cluster::replication::entry>> { return to_copy(self, id, {}); },
      // This node's copy of a room has a new copy set (actors/replica.hpp).
      [=](api::copies_atom, const api::room_id& id, std::vector<std::string>& copies) {
        if (auto it = self->state.replicas.find(id); it != self->state.replicas.end())
          it->second.copies = std::move(copies);
      },
      // An owner removed this node's copy of the room from its set: the copy
      // checks its own log, then says so (below) and stops.
      [=](api::dropped_atom, const api::room_id& id) {
        if (!from_live_member(self))
          return;
        if (auto copy = replica_of(self, id, {}))
          api::tell(self, copy->actor, api::dropped_atom::value, id);
      },
      // This node's copy of a room stopped leading, or leads a new epoch:
      // the room actor of the old epoch ends (actors/replica.cpp, retire_room).
      [=](api::resign_atom, const api::room_id& id) {
        auto& st = self->state;
        auto sender = self->current_sender();
        auto it = st.replicas.find(id);
        if (it == st.replicas.end() || !sender || sender != it->second.actor.address())
          return;
        if (auto room = st.live.take(id))
          self->send(room, api::retire_atom::value);
      },
      [=](api::dropped_atom, const api::room_id& id, bool) {
        auto& st = self->state;
        auto sender = self->current_sender();
        auto it = st.replicas.find(id);
        if (it == st.replicas.end() || !sender || sender != it->second.actor.address())
          return;
        st.replicas.erase(it);
        if (auto room = st.live.take(id))
          self->send(room, api::retire_atom::value);
        st.ctx->interest->forget(id);
        if (auto err = st.stores.handoff.drop_room(id, true))
          spdlog::error("room {}: its dropped copy stays on disk: {}", id.value, api::describe(err).message);
        else
          spdlog::info("room {}: this node left its copy set; its copy here is deleted", id.value);
      },
      // Look at the room's copy set (a retry, or a copy that handed the room
      // over to this node).
      [=](api::repair_atom, const api::room_id& id) {
        if (from_live_member(self))
          check_copies(self, id);
      },
      [=](api::drain_atom, bool) { check_left_sets(self); },
      // Answered once this node holds no room (a drain waits for it).
      [=](api::drain_atom) -> caf::result<bool> {
        auto rp = self->make_response_promise();
        if (replicated(self)) {
          // Replicated rooms do not move: this node's copies resign, so the
          // next copy of each room takes it (requests reaching this node go
          // there), and the owners take this node out of their sets (the
          // view change told them it drains); the drain ends when no room
          // names it any more.
          for (auto& [id, copy] : self->state.replicas)
            api::tell(self, copy.actor, api::resign_atom::value);
          self->state.drain_waiters.push_back(rp);
          check_left_sets(self);
          return rp;
        }
        self->state.drain_waiters.push_back(rp);
        check_drained(self);
        return rp;
      },
  };
}

}  // namespace confab::actors
