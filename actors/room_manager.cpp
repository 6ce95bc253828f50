#include "actors/room_manager.hpp"

#include <openssl/sha.h>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <caf/event_based_actor.hpp>

#include "actors/replica.hpp"
#include "actors/replica_log.hpp"
#include "actors/room.hpp"
#include "actors/room_change.hpp"
#include "api/atoms.hpp"
#include "api/errors.hpp"
#include "api/hex.hpp"
#include "api/metrics.hpp"
#include "cluster/rendezvous.hpp"
#include "cluster/scatter.hpp"

namespace confab::actors {

using api::errc;
using api::fail;

api::room_id dm_room_id(const api::user_id& a, const api::user_id& b) {
  auto key = a < b ? a.value + ":" + b.value : b.value + ":" + a.value;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  return api::room_id{"d_" + api::to_hex(digest, 8)};
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

using self_ptr = probed<room_manager_state>*;
constexpr auto locate_timeout = std::chrono::seconds(2);
// A request passes at most: any node -> owner of the id -> a node with a
// copy (or the holder) -> the first live copy.
constexpr std::uint8_t max_hops = 3;
constexpr auto take_timeout = std::chrono::seconds(15);

bool replicated(self_ptr self) {
  return self->state.ctx->replication > 1;
}

// The live room actor of `id`, spawned on first use; counts one delegation.
caf::actor& route(self_ptr self, const api::room_id& id) {
  return self->state.live
      .route(id,
             [&](auto& e) {
               caf::actor replica;
               if (auto it = self->state.replicas.find(id); it != self->state.replicas.end())
                 replica = it->second.actor;
               // Linked: rooms stop with the manager.
               e.actor = self->spawn<caf::linked>(room_actor, id, self->state.ctx, caf::actor{self}, replica);
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
    out.emplace(m.id, m.rooms);
  return out;
}

// The copy set of a room this node holds a copy of; not_found when it holds
// none, another error when its state is unreadable.
caf::expected<std::vector<std::string>> copy_set(self_ptr self, const api::room_id& id) {
  auto& st = self->state;
  if (auto it = st.replicas.find(id); it != st.replicas.end())
    return it->second.copies;
  auto saved = replica_log::saved_state(*st.ctx->db, id);
  if (saved)
    return std::move(saved->current);
  if (api::describe(saved.error()).code != errc::not_found)
    spdlog::error("room {}: replication state unreadable: {}", id.value, api::describe(saved.error()).message);
  return saved.error();
}

void check_copies(self_ptr self, const api::room_id& id);

// This node's copy of the room, started from its disk on first use; for a
// room it has no copy of, a new one of the set `fresh` (none when empty).
const room_manager_state::replica* replica_of(self_ptr self, const api::room_id& id, std::vector<std::string> fresh) {
  auto& st = self->state;
  if (auto it = st.replicas.find(id); it != st.replicas.end())
    return &it->second;
  auto loaded = replica_log::load(st.ctx->db, id, std::move(fresh));
  if (!loaded) {
    spdlog::error("room {}: its log here is unreadable: {}", id.value, api::describe(loaded.error()).message);
    return nullptr;
  }
  if (loaded->log.copies().empty())
    return nullptr;
  // Committed entries become the room's state in this node's store.
  auto apply_entry = [db = st.ctx->db, id](const cluster::replication::entry& e) -> caf::error {
    if (e.payload.empty())
      return caf::none;  // the first entry of an epoch
    auto change = decode_room_change(e.payload);
    auto err = change ? apply(*db, id, *change) : change.error();
    if (err)
      spdlog::error("room {}: entry {} not applied: {}", id.value, e.index, api::describe(err).message);
    return err;
  };
  auto log = std::make_shared<cluster::replication::copy>(std::move(loaded->log));
  auto& entry = st.replicas[id];
  entry.copies = log->copies();
  replica_sync sync;
  if (st.ctx->db->mode() == storage::durability::fsync)
    sync = {st.ctx->syncer, [db = st.ctx->db] { return db->written(); }};
  entry.actor = self->spawn<caf::linked>(replica_actor, id, st.ctx->node_id, std::move(log),
                                         std::function<caf::error(const cluster::replication::entry&)>{apply_entry},
                                         caf::actor{self}, std::move(sync));
  self->send(entry.actor, api::peers_atom::value, peers_of(self));
  return &entry;
}

// The room's data is here and not fenced by a handoff.
bool held_here(self_ptr self, const api::room_id& id) {
  auto& st = self->state;
  if (st.live.find(id) != nullptr)
    return true;
  return st.ctx->db->room(id) && !st.ctx->db->moving_to(id);
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

// Serves a request for a replicated room whose first live copy is this
// node: once this node's copy has taken the room (at once when it has).
// `fresh`: the copy set of a room made by this request (a direct room).
void serve_owned(self_ptr self, const api::room_id& id, caf::response_promise rp, caf::message msg,
                 std::vector<std::string> fresh = {}) {
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

// -- where copies go (docs/REPLICATION.md, "Changing a copy set") ------------
//
// When the member lists change (a node joins, goes down or comes back,
// drains, or is removed; and once at start), every room this node holds a
// copy of whose set is not where rendezvous hashing wants it gets one change
// toward it (cluster::next_copy_change), made by the room's first live copy:
// it takes the room and asks its copy for the change; then looks again. A
// few rooms at a time; a room whose first live copy is another node waits
// here (parked) until a view change. An owner that leaves the set hands the
// room to the next copy, which makes the rest of the change.

constexpr std::size_t max_repairs = 8;
constexpr int max_repair_tries = 30;
constexpr auto repair_retry = std::chrono::seconds(2);
constexpr auto replace_timeout = std::chrono::seconds(90);

bool has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

cluster::copy_change next_change(self_ptr self, const api::room_id& id, const std::vector<std::string>& copies) {
  auto view = self->state.ctx->place->current();
  // Removed and draining members leave the sets they are in.
  auto leaving = view->removed;
  for (auto& m : view->live)
    if (!has(view->ids, m.id))
      leaving.push_back(m.id);
  auto change = cluster::next_copy_change(cluster::room_key(id.value), copies, view->ids, view->down, leaving,
                                          self->state.ctx->replication);
  // An owner hands the room over only to another live copy.
  if (change.out == self->state.ctx->node_id && change.in.empty() &&
      std::none_of(copies.begin(), copies.end(), [&](auto& n) { return n != change.out && has(view->ids, n); }))
    return {};
  return change;
}

// The room manager of the first copy that is a live owner (where requests
// go); null when none is.
caf::actor first_live_copy(self_ptr self, const std::vector<std::string>& copies) {
  auto view = self->state.ctx->place->current();
  for (auto& name : copies)
    for (auto& m : view->owners)
      if (m.id == name)
        return m.rooms;
  return {};
}

void queue_repair(self_ptr self, const api::room_id& id) {
  auto& st = self->state;
  if (st.queued_repairs.insert(id).second)
    st.to_repair.push_back(id);
}

void run_repairs(self_ptr self);

// Queued rooms stay in queued_repairs until they need no change (or it was
// given up, or they are parked).
void repair(self_ptr self, const api::room_id& id) {
  auto& st = self->state;
  auto copies = copy_set(self, id);
  auto change = copies ? next_change(self, id, *copies) : cluster::copy_change{};
  if (change.out.empty() && change.in.empty()) {
    st.queued_repairs.erase(id);
    st.repair_tries.erase(id);
    return;
  }
  if (first_live_copy(self, *copies) != caf::actor{self}) {
    // Another copy serves (or this node has not heard of the set that makes
    // it first yet: a handover's entry may still be on its way): look again
    // in a while, then only on a view change or when the room is taken.
    st.queued_repairs.erase(id);
    if (++st.repair_tries[id] < max_repair_tries) {
      self->delayed_send(self, repair_retry, api::repair_atom::value, id);
    } else {
      spdlog::info("room {}: its copy set wants a change that another copy makes", id.value);
      st.repair_tries.erase(id);  // a later look starts counting again
      st.parked_repairs.insert(id);
    }
    return;
  }
  auto copy = replica_of(self, id, {});
  if (!copy) {
    st.queued_repairs.erase(id);
    return;
  }
  ++st.repairs_running;
  spdlog::info("room {}: changing its copy set {}: out {}, in {}", id.value, fmt::join(*copies, ","),
               change.out.empty() ? "-" : change.out, change.in.empty() ? "-" : change.in);
  auto actor = copy->actor;
  auto done = [self, id](const caf::error& err) {
    auto& st = self->state;
    --st.repairs_running;
    if (!err) {
      ++st.repaired;
      st.repair_tries.erase(id);
      // The set may need another change; after a handover, the new first
      // live copy makes it.
      auto copies = copy_set(self, id);
      auto next = copies ? first_live_copy(self, *copies) : caf::actor{};
      if (next && next != caf::actor{self})
        self->send(next, api::repair_atom::value, id);
      st.to_repair.push_back(id);
    } else if (++st.repair_tries[id] < max_repair_tries) {
      spdlog::info("room {}: copy set not changed yet ({}); trying again", id.value, api::describe(err).message);
      st.queued_repairs.erase(id);
      self->delayed_send(self, repair_retry, api::repair_atom::value, id);
    } else {
      spdlog::error("room {}: gave up changing its copy set: {}", id.value, api::describe(err).message);
      st.queued_repairs.erase(id);
      st.repair_tries.erase(id);
    }
    run_repairs(self);
  };
  self->request(actor, take_timeout, api::take_atom::value)
      .then(
          [=, out = change.out, in = change.in](bool) {
            self->request(actor, replace_timeout, api::replace_atom::value, out, in)
                .then([=](bool) { done(caf::none); }, [=](caf::error& err) { done(err); });
          },
          [=](caf::error& err) { done(err); });
}

void run_repairs(self_ptr self) {
  auto& st = self->state;
  while (st.repairs_running < max_repairs && !st.to_repair.empty()) {
    auto id = std::move(st.to_repair.front());
    st.to_repair.pop_front();
    repair(self, id);
  }
  if (st.repairs_running == 0 && st.to_repair.empty() && st.repaired > 0) {
    spdlog::info("{} copy-set changes made", st.repaired);
    st.repaired = 0;
  }
}

// A draining node: answers those waiting for the drain once the owner of
// every room this node holds a copy of names a set without it (asked again
// every 500 ms; the node actor's drain_wait bounds it).
void check_left_sets(self_ptr self) {
  auto& st = self->state;
  if (st.drain_waiters.empty() || st.checking_drain)
    return;
  auto done = [self](bool all) {
    auto& st = self->state;
    st.checking_drain = false;
    for (auto& rp : st.drain_waiters)
      rp.deliver(all);
    st.drain_waiters.clear();
  };
  auto rooms = st.ctx->db->log_rooms();
  if (!rooms) {
    spdlog::error("could not list the rooms with a copy here: {}", api::describe(rooms.error()).message);
    return done(false);
  }
  if (rooms->empty())
    return done(true);
  struct gather {
    std::size_t pending = 0;
    std::size_t named = 0;
  };
  auto g = std::make_shared<gather>();
  g->pending = rooms->size();
  st.checking_drain = true;
  auto one = [self, g, done](bool named) {
    g->named += named ? 1 : 0;
    if (--g->pending > 0)
      return;
    if (g->named == 0)
      return done(true);
    self->state.checking_drain = false;
    spdlog::info("draining: {} rooms still name this node in their copy set", g->named);
    self->delayed_send(self, std::chrono::milliseconds(500), api::drain_atom::value, true);
  };
  for (auto& id : *rooms)
    self->request(caf::actor{self}, locate_timeout, api::admin_atom::value, id)
        .then(
            [self, one](const api::room_admin& a) {
              auto& me = self->state.ctx->node_id;
              one(a.owner == me || has(a.replicas, me));
            },
            [one](caf::error& err) {
              // A room that does not exist (its create never committed) names nobody.
              one(api::describe(err).code != errc::not_found);
            });
}

void check_copies(self_ptr self, const api::room_id& id) {
  queue_repair(self, id);
  run_repairs(self);
}

// After a view change: when the member lists changed since the last look,
// every room with a copy here whose set wants a change is queued; parked
// rooms are looked at again.
void find_repairs(self_ptr self) {
  auto& st = self->state;
  auto view = st.ctx->place->current();
  for (auto& id : st.parked_repairs)
    queue_repair(self, id);
  st.parked_repairs.clear();
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  std::vector<std::string> live;
  for (auto& m : view->live)
    live.push_back(m.id);
  std::vector<std::vector<std::string>> lists{sorted(live), sorted(view->ids), sorted(view->down),
                                              sorted(view->removed)};
  if (lists != st.scanned_lists) {
    st.scanned_lists = std::move(lists);
    auto rooms = st.ctx->db->log_rooms();
    if (!rooms)
      spdlog::error("could not list the rooms with a copy here: {}", api::describe(rooms.error()).message);
    else
      for (auto& id : *rooms)
        if (auto copies = copy_set(self, id); copies && first_live_copy(self, *copies) == caf::actor{self}) {
          auto change = next_change(self, id, *copies);
          if (!change.out.empty() || !change.in.empty())
            queue_repair(self, id);
        }
  }
  run_repairs(self);
}

void dispatch(self_ptr self, const api::room_id& id, std::uint8_t hops, caf::response_promise rp, caf::message msg);
void resolve_fence(self_ptr self, const api::room_id& id, const std::string& target);

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
    bool unanswered = false;  // a node did not say
    caf::actor holder;
  };
  auto g = std::make_shared<gather>();
  auto finish = [self, id, view, g](const caf::actor& holder) {
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
  std::vector<caf::actor> peers;
  for (auto& m : view->live)
    if (m.rooms != caf::actor{self})
      peers.push_back(m.rooms);
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
      if (first == caf::actor{self})
        return serve_owned(self, id, rp, std::move(msg));
      return forward(rp, first, hops, std::move(msg));
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
    return forward(rp, st.ctx->place->room(id), hops, std::move(msg));
  if (auto it = st.located.find(id); it != st.located.end())
    return forward(rp, it->second, hops, std::move(msg));
  if (st.ctx->db->moving_to(id)) {
    rp.deliver(fail(errc::unavailable, "the room is moving between nodes; try again"));
    return;
  }
  auto& queue = st.locating[id];
  queue.push_back({rp, std::move(msg), hops});
  if (queue.size() == 1)
    locate(self, id);
}

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
  auto ids = st.ctx->db->room_ids();
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
  auto took = now_ms() - out.started_ms;
  if (moved)
    api::node_metrics().handoffs_out.fetch_add(1, std::memory_order_relaxed);
  if (moved)
    spdlog::info("room {} handed off to node {} in {} ms", id.value, out.target_id, took);
  for (auto& w : out.waiting) {
    if (moved)
      forward(w.rp, out.target, 0, std::move(w.msg));  // progress, not a loop: hops start again
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
  if (auto err = st.ctx->db->clear_moving(id))
    spdlog::error("room {} stays fenced: {}", id.value, api::describe(err).message);
  end_move(self, id, false);
  self->delayed_send(self, retry_after, api::view_atom::value);
}

void finish_move(self_ptr self, const api::room_id& id) {
  auto& st = self->state;
  if (auto err = st.ctx->db->drop_room(id))
    spdlog::error("room {} moved but its old copy stays: {}", id.value, api::describe(err).message);
  st.ctx->interest->forget(id);
  end_move(self, id, true);
}

void send_piece(self_ptr self, const api::room_id& id, api::seq_t after) {
  auto& st = self->state;
  auto it = st.moving.find(id);
  if (it == st.moving.end())
    return;
  auto piece = st.ctx->db->export_piece(id, after, piece_messages);
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
  if (auto err = st.ctx->db->set_moving(id, owner)) {
    spdlog::error("cannot fence room {}: {}", id.value, api::describe(err).message);
    return;
  }
  auto& out = st.moving[id];
  out.target_id = owner;
  out.target = card->rooms;
  out.started_ms = now_ms();
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
  auto ids = st.ctx->db->room_ids();
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
      auto target = st.ctx->db->moving_to(id);
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
  self->request(card->rooms, piece_timeout, api::holds_atom::value, id)
      .then(
          [=](bool holds) {
            auto& db = *self->state.ctx->db;
            auto err = holds ? db.drop_room(id) : db.clear_moving(id);
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
    if (st.ctx->db->room(id) && !st.ctx->db->moving_to(id))
      return std::string{"held"};  // a retry after we committed
    st.incoming[id];
    self->delayed_send(self, incoming_wait, api::handoff_atom::value, id);
  }
  if (auto err = st.ctx->db->import_piece(piece))
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

caf::result<api::room_info> create_room(self_ptr self, const api::caller& who, const std::string& name,
                                        const std::string& topic, const std::string& visibility) {
  auto& ctx = *self->state.ctx;
  // An id this node owns: the room is made and served here, no forwarding.
  api::room_id id{random_id("r_")};
  for (int i = 0; i < 256 && !ctx.place->owns_room(id); ++i)
    id = api::room_id{random_id("r_")};
  api::room_info info{id, name, topic, visibility, "room", now_ms(), who.id};
  if (replicated(self)) {
    auto rp = self->make_response_promise<api::room_info>();
    serve_owned(self, id, rp, caf::make_message(api::create_atom::value, info), fresh_copies(self, id));
    return rp;
  }
  if (auto err = ctx.db->put_room(info, {{who.id, "owner"}}))
    return err;
  auto hubs = ctx.place->hubs();
  ctx.interest->add_all(info.id, hubs);
  for (auto& hub : hubs)
    self->send(hub, api::membership_atom::value, info.id, who.id, true);
  return info;
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
void to_copy(self_ptr self, const api::room_id& id, std::vector<std::string> copies) {
  auto msg = self->current_mailbox_element()->move_content_to_message();
  auto rp = self->make_response_promise();
  if (!from_live_member(self))
    return rp.deliver(fail(errc::forbidden, "not from a live member of the cluster"));
  if (!copies.empty() && std::find(copies.begin(), copies.end(), self->state.ctx->node_id) == copies.end())
    return rp.deliver(fail(errc::invalid_request, "this node is not a copy of the room"));
  auto copy = replica_of(self, id, std::move(copies));
  if (!copy)
    return rp.deliver(fail(errc::not_found, "no copy of the room here"));
  rp.delegate(copy->actor, std::move(msg));
}

}  // namespace

caf::behavior room_manager(self_ptr self, context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  self->probe_as(self->state.ctx->actors, "room_manager", "room_manager");
  // A room that ended (retired, or failed) is dropped from the directory; the
  // next request activates it again from storage. Any other exit stops us.
  self->set_exit_handler([self](caf::exit_msg& msg) { forget_or_quit(self, self->state.live, msg); });
  log_stray_errors(self, "room manager");
  auto routed = [self] {
    auto msg = self->current_mailbox_element()->move_content_to_message();
    auto id = room_of(msg);
    dispatch(self, id, 0, self->make_response_promise(), std::move(msg));
  };
  return {
      [=](api::create_atom a, const api::caller& who, const std::string& name, const std::string& topic,
          const std::string& visibility) -> caf::result<api::room_info> {
        // A draining node owns no room id: a node that does makes the room.
        if (!self->state.ctx->place->is_owner()) {
          auto rp = self->make_response_promise();
          rp.delegate(self->state.ctx->place->room(api::room_id{random_id("r_")}), a, who, name, topic, visibility);
          return rp;
        }
        return create_room(self, who, name, topic, visibility);
      },
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
        dispatch(self, id, hops, self->make_response_promise(), std::move(msg));
      },
      // Whether this node has the room (held, moving away, or fenced).
      [=](api::holds_atom, const api::room_id& id) {
        auto& st = self->state;
        return st.live.find(id) != nullptr || st.moving.count(id) > 0 || static_cast<bool>(st.ctx->db->room(id)) ||
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
          self->send(copy.actor, api::peers_atom::value, peers);
        find_repairs(self);
      },
      // Between the copies of a room (actors/replica.hpp): to this node's
      // copy, started for a room it has not held yet.
      [=](api::prepare_atom, const api::room_id& id, std::vector<std::string>& copies,
          const cluster::replication::epoch&) { to_copy(self, id, std::move(copies)); },
      [=](api::append_atom, const api::room_id& id, std::vector<std::string>& copies,
          const cluster::replication::append_request&) { to_copy(self, id, std::move(copies)); },
      [=](api::fetch_atom, const api::room_id& id, const cluster::replication::epoch&, std::uint64_t, std::uint64_t) {
        to_copy(self, id, {});
      },
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
          self->send(copy->actor, api::dropped_atom::value, id);
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
        if (auto err = st.ctx->db->drop_room(id, true))
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
      [=](api::drain_atom) {
        if (replicated(self)) {
          // Replicated rooms do not move: this node's copies resign, so the
          // next copy of each room takes it (requests reaching this node go
          // there), and the owners take this node out of their sets (the
          // view change told them it drains); the drain ends when no room
          // names it any more.
          for (auto& [id, copy] : self->state.replicas)
            self->send(copy.actor, api::resign_atom::value);
          self->state.drain_waiters.push_back(self->make_response_promise());
          check_left_sets(self);
          return;
        }
        self->state.drain_waiters.push_back(self->make_response_promise());
        check_drained(self);
      },
  };
}

}  // namespace confab::actors
