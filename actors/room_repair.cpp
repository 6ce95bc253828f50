#include "actors/room_manager_parts.hpp"

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <caf/event_based_actor.hpp>
#include "actors/replica_log.hpp"
#include "actors/room_change.hpp"
#include "api/atoms.hpp"
#include "api/errors.hpp"
#include "api/metrics.hpp"
#include "cluster/rendezvous.hpp"

namespace confab::actors::rooms {

using api::errc;
using api::fail;

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
room_manager_actor first_live_copy(self_ptr self, const std::vector<std::string>& copies) {
  auto view = self->state.ctx->place->current();
  for (auto& name : copies)
    for (auto& m : view->owners)
      if (m.id == name)
        return manager_of(m);
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
  if (!is_me(self, first_live_copy(self, *copies))) {
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
      auto next = copies ? first_live_copy(self, *copies) : room_manager_actor{};
      if (next && !is_me(self, next))
        api::tell(self, next, api::repair_atom::value, id);
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
  auto rooms = st.stores.log.log_rooms();
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
    self->request(room_manager_actor{self}, locate_timeout, api::admin_atom::value, id)
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
    auto rooms = st.stores.log.log_rooms();
    if (!rooms)
      spdlog::error("could not list the rooms with a copy here: {}", api::describe(rooms.error()).message);
    else
      for (auto& id : *rooms)
        if (auto copies = copy_set(self, id); copies && is_me(self, first_live_copy(self, *copies))) {
          auto change = next_change(self, id, *copies);
          if (!change.out.empty() || !change.in.empty())
            queue_repair(self, id);
        }
  }
  run_repairs(self);
}

}  // namespace confab::actors::rooms
