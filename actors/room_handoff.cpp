#include "actors/room_manager_parts.hpp"

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <caf/event_based_actor.hpp>
#include "actors/replica_log.hpp"
#include "actors/room_change.hpp"
#include "api/atoms.hpp"
#include "api/clock.hpp"
#include "api/errors.hpp"
#include "api/metrics.hpp"
#include "cluster/rendezvous.hpp"

namespace confab::actors::rooms {

using api::errc;
using api::fail;

// -- handoff: a room whose id another node owns now moves there --------------
//
// The holder fences the room (durably), flushes its room actor, sends the
// room in pieces, each acknowledged, and the last piece makes it held at the
// new owner; then it drops its copy. Requests meanwhile wait here (or at the
// new owner, while pieces arrive) and then go to the new owner. A failure
// before the last piece was sent lifts the fence; after it, the room stays
// fenced and the handoff is tried again until the new owner confirms.

constexpr std::size_t parallel_moves = 4;
constexpr std::uint32_t piece_messages = 256;
constexpr auto piece_timeout = std::chrono::seconds(10);
constexpr auto incoming_wait = std::chrono::seconds(15);
constexpr auto retry_after = std::chrono::seconds(2);

void pump(self_ptr self);

// Answers those waiting for a drain once no room is held here any more.
void check_drained(self_ptr self) {
  auto& st = self->state;
  if (st.drain_waiters.empty() || !st.moving.empty() || !st.to_move.empty())
    return;
  auto ids = st.stores.handoff.room_ids();
  if (!ids || !ids->empty())
    return;
  for (auto& rp : st.drain_waiters)
    rp.deliver(true);
  st.drain_waiters.clear();
}

void end_move(self_ptr self, const api::room_id& id, bool moved) {
  auto& st = self->state;
  auto it = st.moving.find(id);
  if (it == st.moving.end())
    return;
  auto out = std::move(it->second);
  st.moving.erase(it);
  --st.moves_running;
  auto took = api::now_ms() - out.started_ms;
  if (moved)
    api::node_metrics().handoffs_out.fetch_add(1, std::memory_order_relaxed);
  if (moved)
    spdlog::info("room {} handed off to node {} in {} ms", id.value, out.target_id, took);
  for (auto& w : out.waiting) {
    if (moved)
      forward(w.rp, out.target, 0, id, std::move(w.msg));  // progress, not a loop: hops start again
    else
      dispatch(self, id, w.hops, w.rp, std::move(w.msg));
  }
  pump(self);
  check_drained(self);
}

void abort_move(self_ptr self, const api::room_id& id, const std::string& why) {
  auto& st = self->state;
  auto it = st.moving.find(id);
  if (it == st.moving.end())
    return;
  spdlog::warn("handoff of room {} to node {} failed: {}", id.value, it->second.target_id, why);
  if (it->second.final_sent) {
    // The new owner may have the room already: stay fenced, try again.
    for (auto& w : it->second.waiting)
      w.rp.deliver(fail(errc::unavailable, "the room is moving between nodes; try again"));
    it->second.waiting.clear();
    st.moving.erase(it);
    --st.moves_running;
    self->delayed_send(self, retry_after, api::view_atom::value);
    return pump(self);
  }
  if (auto err = st.stores.handoff.clear_moving(id))
    spdlog::error("room {} stays fenced: {}", id.value, api::describe(err).message);
  end_move(self, id, false);
  self->delayed_send(self, retry_after, api::view_atom::value);
}

void finish_move(self_ptr self, const api::room_id& id) {
  auto& st = self->state;
  if (auto err = st.stores.handoff.drop_room(id))
    spdlog::error("room {} moved but its old copy stays: {}", id.value, api::describe(err).message);
  st.ctx->interest->forget(id);
  end_move(self, id, true);
}

void send_piece(self_ptr self, const api::room_id& id, api::seq_t after) {
  auto& st = self->state;
  auto it = st.moving.find(id);
  if (it == st.moving.end())
    return;
  auto piece = st.stores.handoff.export_piece(id, after, piece_messages);
  if (!piece)
    return abort_move(self, id, api::describe(piece.error()).message);
  bool last = piece->last;
  auto next = piece->seqs.empty() ? after : piece->seqs.back();
  it->second.final_sent = it->second.final_sent || last;
  self->request(it->second.target, piece_timeout, api::handoff_atom::value, std::move(*piece))
      .then(
          [=](const std::string& answer) {
            if (answer == "held" || last)
              return finish_move(self, id);
            send_piece(self, id, next);
          },
          [=](caf::error& err) { abort_move(self, id, api::describe(err).message); });
}

void start_move(self_ptr self, const api::room_id& id) {
  auto& st = self->state;
  auto view = st.ctx->place->current();
  auto owner = st.ctx->place->room_owner(id);
  auto card = std::find_if(view->live.begin(), view->live.end(), [&](auto& m) { return m.id == owner; });
  if (owner == st.ctx->node_id || card == view->live.end())
    return;
  if (auto err = st.stores.handoff.set_moving(id, owner)) {
    spdlog::error("cannot fence room {}: {}", id.value, api::describe(err).message);
    return;
  }
  auto& out = st.moving[id];
  out.target_id = owner;
  out.target = manager_of(*card);
  out.started_ms = api::now_ms();
  ++st.moves_running;
  // The room actor ends after everything delegated to it so far.
  if (auto room = st.live.take(id)) {
    self->request(room, piece_timeout, api::handoff_atom::value)
        .then([=](bool) { send_piece(self, id, 0); }, [=](caf::error&) { send_piece(self, id, 0); });
    return;
  }
  send_piece(self, id, 0);
}

void pump(self_ptr self) {
  auto& st = self->state;
  while (st.moves_running < parallel_moves && !st.to_move.empty()) {
    auto id = st.to_move.front();
    st.to_move.pop_front();
    st.queued_moves.erase(id);
    if (st.moving.count(id) == 0 && !st.ctx->place->owns_room(id))
      start_move(self, id);
  }
}

// Membership changed: queue every room held here whose id another node owns.
void plan_moves(self_ptr self) {
  auto& st = self->state;
  auto ids = st.stores.handoff.room_ids();
  if (!ids) {
    spdlog::error("cannot list rooms for handoff: {}", api::describe(ids.error()).message);
    return;
  }
  for (auto& id : *ids) {
    if (st.moving.count(id) > 0 || st.queued_moves.count(id) > 0)
      continue;
    if (st.ctx->place->owns_room(id)) {
      // Fenced by a handoff that may have finished (a crash, or the last
      // piece's answer lost): the node it went to says whether it has it.
      auto target = st.stores.handoff.moving_to(id);
      if (target)
        resolve_fence(self, id, *target);
      continue;
    }
    st.queued_moves.insert(id);
    st.to_move.push_back(id);
  }
  pump(self);
}

void resolve_fence(self_ptr self, const api::room_id& id, const std::string& target) {
  auto view = self->state.ctx->place->current();
  auto card = std::find_if(view->live.begin(), view->live.end(), [&](auto& m) { return m.id == target; });
  if (card == view->live.end())
    return;  // it stays fenced until that node is back
  self->request(manager_of(*card), piece_timeout, api::holds_atom::value, id)
      .then(
          [=](bool holds) {
            auto& handoff = self->state.stores.handoff;
            auto err = holds ? handoff.drop_room(id) : handoff.clear_moving(id);
            if (err)
              spdlog::error("room {}: fence not resolved: {}", id.value, api::describe(err).message);
          },
          [](caf::error&) {});
}

// A piece of a room this node is becoming the holder of.
caf::result<std::string> receive_piece(self_ptr self, api::room_piece& piece) {
  auto& st = self->state;
  auto id = piece.room;
  if (id.empty())
    return fail(errc::invalid_request, "no room");
  if (st.incoming.count(id) == 0) {
    if (st.stores.rooms.room(id) && !st.stores.handoff.moving_to(id))
      return std::string{"held"};  // a retry after we committed
    st.incoming[id];
    self->delayed_send(self, incoming_wait, api::handoff_atom::value, id);
  }
  if (auto err = st.stores.handoff.import_piece(piece))
    return err;
  if (!piece.last)
    return std::string{"ok"};
  // Held here from now on; every hub gets the room's events until it says
  // it has nobody in it.
  st.ctx->interest->add_all(id, st.ctx->place->hubs());
  api::node_metrics().handoffs_in.fetch_add(1, std::memory_order_relaxed);
  auto waiting = std::move(st.incoming[id]);
  st.incoming.erase(id);
  for (auto& w : waiting)
    dispatch(self, id, w.hops, w.rp, std::move(w.msg));
  return std::string{"ok"};
}

// The wait for an incoming room is over: what waits goes the usual way.
void incoming_expired(self_ptr self, const api::room_id& id) {
  auto it = self->state.incoming.find(id);
  if (it == self->state.incoming.end())
    return;
  auto waiting = std::move(it->second);
  self->state.incoming.erase(it);
  for (auto& w : waiting)
    dispatch(self, id, w.hops, w.rp, std::move(w.msg));
}

// The sender is an actor of this node or of a live member (a removed node
// that comes back is not: it must not disturb the rooms it was a copy of).
bool from_live_member(self_ptr self) {
  auto sender = self->current_sender();
  if (!sender || sender->node() == self->node())
    return true;
  auto view = self->state.ctx->place->current();
  return std::any_of(view->live.begin(), view->live.end(),
                     [&](const cluster::member_card& m) { return m.rooms.node() == sender->node(); });
}

// A message from another copy of a room, to this node's copy of it. Only a
// node named in the room's copy set starts one.
caf::response_promise to_copy(self_ptr self, const api::room_id& id, std::vector<std::string> copies) {
  auto msg = self->current_mailbox_element()->move_content_to_message();
  auto rp = self->make_response_promise();
  if (!from_live_member(self))
    rp.deliver(fail(errc::forbidden, "not from a live member of the cluster"));
  else if (!copies.empty() && std::find(copies.begin(), copies.end(), self->state.ctx->node_id) == copies.end())
    rp.deliver(fail(errc::invalid_request, "this node is not a copy of the room"));
  else if (auto copy = replica_of(self, id, std::move(copies)); !copy)
    rp.deliver(fail(errc::not_found, "no copy of the room here"));
  else
    rp.delegate(copy->actor, std::move(msg));
  return rp;
}

}  // namespace confab::actors::rooms
