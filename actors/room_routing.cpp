#include "actors/room_manager_parts.hpp"

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <caf/event_based_actor.hpp>
#include "actors/replica.hpp"
#include "actors/replica_log.hpp"
#include "actors/room.hpp"
#include "actors/room_change.hpp"
#include "api/atoms.hpp"
#include "api/errors.hpp"
#include "api/metrics.hpp"
#include "cluster/rendezvous.hpp"
#include "cluster/scatter.hpp"

namespace confab::actors::rooms {

using api::errc;
using api::fail;

// A request passes at most: any node -> owner of the id -> a node with a
// copy (or the holder) -> the first live copy.
constexpr std::uint8_t max_hops = 3;

bool replicated(self_ptr self) {
  return self->state.ctx->replication > 1;
}

// The live room actor of `id`, spawned on first use; counts one delegation.
api::room_actor& route(self_ptr self, const api::room_id& id) {
  return self->state.live
      .route(id,
             [&](auto& e) {
               caf::actor replica;
               if (auto it = self->state.replicas.find(id); it != self->state.replicas.end())
                 replica = it->second.actor;
               // Linked: rooms stop with the manager.
               e.actor = self->spawn<caf::linked>(room_actor, id, self->state.ctx, self->state.stores,
                                                  room_idle_reports{self}, replica);
             })
      .actor;
}

// -- replicated rooms (--replication > 1) ---------------------------------------

// The copy set of a room made here now: this node, then the next members
// in rendezvous order, as many as --replication (fewer in a smaller
// cluster). Members that are down count: a node that is merely down gets
// its copy when it is back (catch-up), as it does for older rooms.
std::vector<std::string> fresh_copies(self_ptr self, const api::room_id& id) {
  auto& ctx = *self->state.ctx;
  return ctx.place->fresh_room_copies(id, ctx.replication);
}

// The room managers of the live members (a copy sends to those of its copy
// set, and an owner also to a node that is joining it).
std::map<std::string, caf::actor> peers_of(self_ptr self) {
  auto view = self->state.ctx->place->current();
  std::map<std::string, caf::actor> out;
  for (auto& m : view->live)
    out.emplace(m.id, caf::actor_cast<caf::actor>(m.rooms));  // the replica is not typed
  return out;
}

// The copy set of a room this node holds a copy of; not_found when it holds
// none, another error when its state is unreadable.
caf::expected<std::vector<std::string>> copy_set(self_ptr self, const api::room_id& id) {
  auto& st = self->state;
  if (auto it = st.replicas.find(id); it != st.replicas.end())
    return it->second.copies;
  auto saved = replica_log::saved_state(st.stores.log, id);
  if (saved)
    return std::move(saved->current);
  if (api::describe(saved.error()).code != errc::not_found)
    spdlog::error("room {}: replication state unreadable: {}", id.value, api::describe(saved.error()).message);
  return saved.error();
}

// This node's copy of the room, started from its disk on first use; for a
// room it has no copy of, a new one of the set `fresh` (none when empty).
const room_manager_state::replica* replica_of(self_ptr self, const api::room_id& id, std::vector<std::string> fresh) {
  auto& st = self->state;
  if (auto it = st.replicas.find(id); it != st.replicas.end())
    return &it->second;
  auto loaded = replica_log::load(st.stores.log, id, std::move(fresh));
  if (!loaded) {
    spdlog::error("room {}: its log here is unreadable: {}", id.value, api::describe(loaded.error()).message);
    return nullptr;
  }
  if (loaded->log.copies().empty())
    return nullptr;
  // Committed entries become the room's state in this node's store.
  auto apply_entry = [stores = st.stores, id](const cluster::replication::entry& e) mutable -> caf::error {
    if (e.payload.empty())
      return caf::none;  // the first entry of an epoch
    auto change = decode_room_change(e.payload);
    auto err = change ? apply(stores.rooms, stores.log, id, *change) : change.error();
    if (err)
      spdlog::error("room {}: entry {} not applied: {}", id.value, e.index, api::describe(err).message);
    return err;
  };
  auto log = std::make_shared<cluster::replication::copy>(std::move(loaded->log));
  auto& entry = st.replicas[id];
  entry.copies = log->copies();
  replica_sync sync;
  if (st.stores.db->mode() == storage::durability::fsync)
    sync = {st.ctx->syncer, [db = st.stores.db] { return db->written(); }};
  entry.actor = self->spawn<caf::linked>(replica_actor, id, st.ctx->node_id, std::move(log),
                                         std::function<caf::error(const cluster::replication::entry&)>{apply_entry},
                                         caf::actor_cast<caf::actor>(self), std::move(sync));
  api::tell(self, entry.actor, api::peers_atom::value, peers_of(self));
  return &entry;
}

// The room's data is here and not fenced by a handoff.
bool held_here(self_ptr self, const api::room_id& id) {
  auto& st = self->state;
  if (st.live.find(id) != nullptr)
    return true;
  return st.stores.rooms.room(id) && !st.stores.handoff.moving_to(id);
}

bool is_query(const caf::message& msg) {
  auto op = msg.get_as<caf::atom_value>(0);
  return op == api::history_atom::value || op == api::members_atom::value || op == api::thread_atom::value;
}

// Serves the request on this node: queries in the reader pool, interest in
// the table, everything else in the room actor.
void serve(self_ptr self, const api::room_id& id, caf::response_promise& rp, caf::message msg) {
  auto op = msg.get_as<caf::atom_value>(0);
  if (op == api::interest_atom::value) {
    if (msg.match_element<caf::actor>(2))
      self->state.ctx->interest->add(id, caf::actor_cast<api::hub_actor>(msg.get_as<caf::actor>(2)));
    rp.deliver(caf::unit);
    return;
  }
  if (is_query(msg)) {
    rp.delegate(caf::actor_cast<caf::actor>(self->state.ctx->place->reader()), std::move(msg));
    return;
  }
  // The request was checked against api::room_service when it reached a
  // room manager; the room's interface takes each of those as it is.
  rp.delegate(caf::actor_cast<caf::actor>(route(self, id)), std::move(msg));
}

// Serves a request for a replicated room whose first live copy is this
// node: once this node's copy has taken the room (at once when it has).
// `fresh`: the copy set of a room made by this request (a direct room).
void serve_owned(self_ptr self, const api::room_id& id, caf::response_promise rp, caf::message msg,
                 std::vector<std::string> fresh) {
  auto& st = self->state;
  if (st.live.find(id) != nullptr || msg.get_as<caf::atom_value>(0) == api::interest_atom::value)
    return serve(self, id, rp, std::move(msg));
  auto& queue = st.taking[id];
  queue.push_back({rp, std::move(msg), 0});
  if (queue.size() > 1)
    return;
  auto finish = [self, id](const caf::error& err) {
    auto waiting = std::move(self->state.taking[id]);
    self->state.taking.erase(id);
    for (auto& w : waiting) {
      if (err)
        w.rp.deliver(err);
      else
        serve(self, id, w.rp, std::move(w.msg));
    }
  };
  auto copy = replica_of(self, id, std::move(fresh));
  if (!copy)
    return finish(fail(errc::unavailable, "this node's copy of the room is unreadable"));
  self->request(copy->actor, take_timeout, api::take_atom::value)
      .then(
          [self, id, finish](bool) {
            finish(caf::none);
            // A new owner looks at the room's set (a handover, or a change
            // its last owner could not finish).
            check_copies(self, id);
          },
          [finish](caf::error&) {
            finish(fail(errc::unavailable, "no majority of the room's copies answered: retry"));
          });
}

void forward(caf::response_promise& rp, const room_manager_actor& to, std::uint8_t hops, const api::room_id& id,
             caf::message msg) {
  if (hops >= max_hops) {
    rp.deliver(fail(errc::unavailable, "the room is moving between nodes; try again"));
    return;
  }
  rp.delegate(to, api::forward_atom::value, static_cast<std::uint8_t>(hops + 1), id, std::move(msg));
}

// Asks every other live node whether it holds `id`; then runs what waits.
void locate(self_ptr self, const api::room_id& id) {
  auto view = self->state.ctx->place->current();
  struct gather {
    bool unanswered = false;  // a node did not say
    room_manager_actor holder;
  };
  auto g = std::make_shared<gather>();
  auto finish = [self, id, view, g](const room_manager_actor& holder) {
    auto it = self->state.locating.find(id);
    if (it == self->state.locating.end())
      return;
    auto waiting = std::move(it->second);
    self->state.locating.erase(it);
    if (holder)
      self->state.located[id] = holder;
    for (auto& w : waiting) {
      if (holder)
        forward(w.rp, holder, w.hops, id, std::move(w.msg));
      else if (!view->down.empty() && w.msg.get_as<caf::atom_value>(0) != api::dm_atom::value)
        w.rp.deliver(fail(errc::unavailable, "the node holding this room may be down; try again"));
      else if (replicated(self) && w.msg.get_as<caf::atom_value>(0) == api::dm_atom::value) {
        // A new direct room only when every member said it has none: a
        // copy set made while its copies are away would fork the room.
        if (g->unanswered || !view->down.empty())
          w.rp.deliver(fail(errc::unavailable, "a node that may hold this room did not answer; try again"));
        else
          serve_owned(self, id, w.rp, std::move(w.msg), fresh_copies(self, id));
      } else
        serve(self, id, w.rp, std::move(w.msg));
    }
  };
  std::vector<room_manager_actor> peers;
  for (auto& m : view->live)
    if (!is_me(self, manager_of(m)))
      peers.push_back(manager_of(m));
  cluster::scatter<bool>(
      self, peers, locate_timeout,
      [g, peers](std::size_t i, caf::expected<bool> holds) {
        if (!holds)
          g->unanswered = true;
        else if (*holds && !g->holder)
          g->holder = peers[i];
      },
      [g, finish] { finish(g->holder); }, api::holds_atom::value, id);
}

// Routes a request about room `id` that has come `hops` nodes so far.
void dispatch(self_ptr self, const api::room_id& id, std::uint8_t hops, caf::response_promise rp, caf::message msg) {
  auto& st = self->state;
  if (id.empty()) {
    rp.deliver(fail(errc::invalid_request, "no room"));
    return;
  }
  if (replicated(self)) {
    auto copies = copy_set(self, id);
    if (copies) {
      // This node has a copy: the first copy that is live and not draining
      // serves; with none, nobody may (this node's store has the room, but
      // only a copy that took it writes).
      auto first = first_live_copy(self, *copies);
      if (!first)
        return rp.deliver(fail(errc::unavailable, "no copy of this room is live: try again"));
      if (is_me(self, first))
        return serve_owned(self, id, rp, std::move(msg));
      return forward(rp, first, hops, id, std::move(msg));
    }
    if (api::describe(copies.error()).code != errc::not_found) {
      rp.deliver(fail(errc::unavailable, "this node's copy of the room is unreadable"));
      return;
    }
  }
  // A room in a handoff: its requests wait for the end (bounded), then go
  // where the room is.
  if (auto it = st.moving.find(id); it != st.moving.end())
    return it->second.waiting.push_back({rp, std::move(msg), hops});
  if (auto it = st.incoming.find(id); it != st.incoming.end())
    return it->second.push_back({rp, std::move(msg), hops});
  if (held_here(self, id))
    return serve(self, id, rp, std::move(msg));
  if (!st.ctx->place->owns_room(id) && hops == 0)
    return forward(rp, manager_of(st.ctx->place->room(id)), hops, id, std::move(msg));
  if (auto it = st.located.find(id); it != st.located.end())
    return forward(rp, it->second, hops, id, std::move(msg));
  if (st.stores.handoff.moving_to(id)) {
    rp.deliver(fail(errc::unavailable, "the room is moving between nodes; try again"));
    return;
  }
  auto& queue = st.locating[id];
  queue.push_back({rp, std::move(msg), hops});
  if (queue.size() == 1)
    locate(self, id);
}

}  // namespace confab::actors::rooms
