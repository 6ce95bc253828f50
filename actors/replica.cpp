#include "actors/replica.hpp"

#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <caf/event_based_actor.hpp>

#include "api/atoms.hpp"
#include "api/errors.hpp"
#include "api/metrics.hpp"

namespace confab::actors {

namespace rep = cluster::replication;
using api::errc;
using api::fail;

namespace {

using self_ptr = caf::stateful_actor<replica_state>*;

// The keys of the entries in memory (a retry older than them is not found
// here: the room keeps its own dedupe records).
void rebuild_keys(replica_state& st) {
  st.keys.clear();
  for (auto& e : st.log->range(st.log->base(), SIZE_MAX))
    if (!e.key.empty() && !rep::is_copies(e))
      st.keys.emplace(e.key, e.index);
}

// Committed entries not applied yet go to the room's state, in order, a
// page at a time. An entry that cannot be read or applied stops it there
// (the next commit, or the next message, tries again): none is skipped, and
// the copy does not serve until all are applied.
void apply_committed(replica_state& st) {
  while (st.applied < st.log->committed()) {
    auto want = std::min<std::uint64_t>(st.log->committed() - st.applied, 512);
    auto page = st.log->range(st.applied, want);
    for (auto& e : page) {
      // (A copies entry is the replicas' own, not the room's.)
      if (e.index != st.applied + 1 || (!rep::is_copies(e) && st.apply && st.apply(e)))
        return;
      ++st.applied;
    }
    if (page.size() < want)
      return;
  }
}

// The copy set may have changed: the room manager routes by it.
void tell_manager(self_ptr self) {
  auto& st = self->state;
  if (!st.manager || st.log->copies() == st.told_copies)
    return;
  st.told_copies = st.log->copies();
  self->send(st.manager, api::copies_atom::value, st.room, st.told_copies);
}

void tell_ready(replica_state& st, const caf::error& err) {
  for (auto& rp : st.ready) {
    if (err)
      rp.deliver(err);
    else
      rp.deliver(true);
  }
  st.ready.clear();
}

// The room actor of an epoch this copy led holds that epoch's state in
// memory (its last seq, its members). Once the copy stops leading, or leads
// a new epoch, the manager retires it, so the next request starts one from
// the store. (Kept, it would assign a seq the next owner had acknowledged
// meanwhile: docs/RELIABILITY.md, the nemesis's first find.)
void retire_room(self_ptr self) {
  auto& st = self->state;
  if (st.manager)
    self->send(st.manager, api::resign_atom::value, st.room);
}

// This node is not the owner (any more): whoever waits is told to retry; an
// entry it wrote may still commit under the next owner, and the retry with
// the same key then finds it.
void step_down(self_ptr self) {
  auto& st = self->state;
  retire_room(self);
  st.leading.reset();
  st.first_of_epoch = 0;
  if (!st.unsaved.empty()) {
    st.unsaved.clear();
    rebuild_keys(st);  // keys of writes that never reached the log
  }
  auto retry = fail(errc::unavailable, "this copy is not the room's owner any more: retry");
  for (auto& [index, rp] : st.acks)
    rp.deliver(retry);
  st.acks.clear();
  tell_ready(st, retry);
  if (st.changing) {
    st.changing->rp.deliver(retry);
    st.changing.reset();
  }
  st.dropping.clear();
}

void learn_epoch(self_ptr self, const rep::epoch& e) {
  auto& st = self->state;
  st.newest_seen = std::max(st.newest_seen, e);
  if (st.leading && st.leading->of() < e)
    step_down(self);
}

void replicate(self_ptr self);
void advance_change(self_ptr self);

// A node removed from the set that has acknowledged the commit of the entry
// that removed it is told to drop its copy (it checks its own log first).
void tell_dropped(self_ptr self) {
  auto& st = self->state;
  if (!st.leading)
    return;
  auto& set = st.log->copies();
  for (auto it = st.dropping.begin(); it != st.dropping.end();) {
    // Added back meanwhile: it keeps its copy.
    if (std::find(set.begin(), set.end(), it->first) != set.end() || (st.changing && st.changing->in == it->first)) {
      it = st.dropping.erase(it);
      continue;
    }
    if (st.leading->told(it->first) < it->second) {
      ++it;
      continue;
    }
    st.leading->forget_learner(it->first);
    if (auto peer = st.peers.find(it->first); peer != st.peers.end())
      self->send(peer->second, api::dropped_atom::value, st.room);
    it = st.dropping.erase(it);
  }
}

void answer_committed(self_ptr self) {
  auto& st = self->state;
  tell_dropped(self);
  apply_committed(st);
  if (serving(st))
    tell_ready(st, caf::none);
  while (!st.acks.empty() && st.acks.begin()->first <= st.log->committed()) {
    st.acks.begin()->second.deliver(st.acks.begin()->first);
    st.acks.erase(st.acks.begin());
  }
  advance_change(self);
}

// One batch to `follower`, if it needs one and none is in flight.
void send_batch(self_ptr self, const std::string& follower) {
  auto& st = self->state;
  auto peer = st.peers.find(follower);
  if (!st.leading || peer == st.peers.end())
    return;
  auto req = st.leading->batch_for(follower, *st.log, st.batch_max);
  if (!req)
    return;
  auto by = req->by;
  // The set the message names includes the follower (a learner is not in
  // the copy set yet), so that its room manager starts its copy.
  auto named = st.log->copies();
  if (std::find(named.begin(), named.end(), follower) == named.end())
    named.push_back(follower);
  auto sent = std::chrono::steady_clock::now();
  self->request(peer->second, st.timeout, api::append_atom::value, st.room, std::move(named), std::move(*req))
      .then(
          [self, follower, by, sent](const rep::append_reply& reply) {
            api::node_metrics().replication_lag.observe(std::chrono::steady_clock::now() - sent);
            auto& st = self->state;
            if (!st.leading || st.leading->of() != by)
              return;  // an answer to an epoch this node no longer leads
            if (!st.leading->on_reply(follower, reply))
              return learn_epoch(self, reply.promised);
            st.log->commit(st.leading->commit_point(*st.log));
            answer_committed(self);
            replicate(self);
          },
          [self, follower, by](const caf::error&) {
            auto& st = self->state;
            if (!st.leading || st.leading->of() != by)
              return;
            // Lost (a dropped link loses messages silently) or timed out:
            // the batch goes again after a pause.
            st.leading->lost(follower);
            self->delayed_send(self, st.timeout / 4, api::retry_atom::value, follower);
          });
}

constexpr auto sync_timeout = std::chrono::seconds(30);

void on_synced(self_ptr self);

// Asks the syncer to make the log's writes durable (one request at a time;
// what is written meanwhile goes with the next).
void sync_log(self_ptr self) {
  auto& st = self->state;
  if (!st.sync.syncer || st.syncing || st.log->synced() >= st.log->last_index())
    return;
  st.syncing = true;
  auto upto = st.log->last_index();
  auto cut = st.log->truncated();
  self->request(st.sync.syncer, sync_timeout, api::fsync_atom::value, st.sync.written())
      .then(
          [self, upto, cut](std::uint64_t) {
            auto& st = self->state;
            st.syncing = false;
            // Entries cut and written again since the ask are not covered.
            if (st.log->truncated() == cut)
              st.log->synced_to(upto);
            on_synced(self);
          },
          [self](const caf::error& err) {
            auto& st = self->state;
            st.syncing = false;
            spdlog::error("room {}: its log could not be synced: {}", st.room.value, api::describe(err).message);
            for (auto& [reply, rp] : st.unsynced)
              rp.deliver(err);
            st.unsynced.clear();
            step_down(self);
          });
}

void on_synced(self_ptr self) {
  auto& st = self->state;
  auto synced = st.log->synced();
  auto waiting = std::move(st.unsynced);
  st.unsynced.clear();
  for (auto& [reply, rp] : waiting) {
    if (reply.index <= synced)
      rp.deliver(reply);
    else
      st.unsynced.emplace_back(reply, rp);
  }
  if (st.leading)
    return replicate(self);  // the commit point may move
  sync_log(self);
}

void replicate(self_ptr self) {
  auto& st = self->state;
  if (!st.leading)
    return;
  sync_log(self);
  st.log->commit(st.leading->commit_point(*st.log));
  answer_committed(self);
  if (!st.leading)
    return;
  for (auto& name : st.leading->followers())
    send_batch(self, name);
}

std::vector<std::string> followers(const replica_state& st) {
  std::vector<std::string> out;
  for (auto& name : st.log->copies())
    if (name != st.node)
      out.push_back(name);
  return out;
}

// The log's pending writes first (their indexes were promised in order),
// then `e`; returns its index, or 0 when the disk failed (this copy steps
// down).
std::uint64_t append_now(self_ptr self, rep::entry e) {
  auto& st = self->state;
  if (!st.unsaved.empty()) {
    auto items = std::move(st.unsaved);
    st.unsaved.clear();
    if (!st.log->append_local(std::move(items))) {
      step_down(self);
      return 0;
    }
  }
  auto index = st.log->append_local(std::move(e.key), std::move(e.payload));
  if (!index) {
    step_down(self);
    return 0;
  }
  return *index;
}

// The next step of a copy-set change, once the last one is committed: the
// newcomer joins once it holds everything committed, then the departed
// node leaves; then the change is answered.
void advance_change(self_ptr self) {
  auto& st = self->state;
  if (!st.changing || !st.leading || st.changing->index > st.log->committed())
    return;
  auto& c = *st.changing;
  auto set = st.log->copies();
  std::string removed;
  auto has = [&set](const std::string& n) { return std::find(set.begin(), set.end(), n) != set.end(); };
  if (!c.in.empty() && !has(c.in)) {
    if (st.leading->match(c.in) < st.log->committed())
      return;  // the learner is catching up
    set.push_back(c.in);
  } else if (!c.out.empty() && has(c.out) && c.out != st.node) {
    set.erase(std::find(set.begin(), set.end(), c.out));
    removed = c.out;
  } else if (!c.out.empty() && has(c.out) && set.back() != st.node) {
    // The owner leaves: the set goes on with it last, so that the next
    // copy serves (and removes it) once this one steps down.
    set.erase(std::find(set.begin(), set.end(), c.out));
    set.push_back(c.out);
  } else if (!c.out.empty() && has(c.out)) {
    // Steps down only once the next copy it can reach holds the entry that
    // makes it first (a majority may have committed it without that copy,
    // which would then still route to this one).
    auto next = std::find_if(set.begin(), set.end(), [&](auto& n) { return n != st.node && st.peers.count(n) > 0; });
    if (next == set.end() || st.leading->match(*next) < c.index)
      return;
    spdlog::info("room {}: handed over to the next copy", st.room.value);
    c.rp.deliver(true);
    st.changing.reset();
    step_down(self);
    return;
  } else {
    c.rp.deliver(true);
    st.changing.reset();
    return;
  }
  auto index = append_now(self, rep::copies_entry(set));
  if (index == 0)
    return;
  st.changing->index = index;
  st.leading->follow(st.log->copies(), st.node, *st.log);
  if (!removed.empty())
    st.dropping[removed] = index;
  tell_manager(self);
  spdlog::info("room {}: copy set now {} (entry {})", st.room.value, fmt::join(set, ","), index);
  replicate(self);
}

caf::result<bool> replace(self_ptr self, std::string out, std::string in) {
  auto& st = self->state;
  if (!st.leading || st.first_of_epoch == 0 || st.first_of_epoch > st.log->committed())
    return fail(errc::unavailable, "this copy does not serve the room: take it first");
  if (st.changing)
    return fail(errc::conflict, "a change of this room's copy set is under way");
  if (in == st.node)
    return fail(errc::invalid_request, "the owner is in the set already");
  auto& set = st.log->copies();
  bool has_out = !out.empty() && std::find(set.begin(), set.end(), out) != set.end();
  bool needs_in = !in.empty() && std::find(set.begin(), set.end(), in) == set.end();
  if (!has_out && !needs_in)
    return true;
  auto rp = self->make_response_promise();
  st.changing = replica_state::change{has_out ? out : "", needs_in ? in : "", rp, 0, ++st.changes};
  if (needs_in)
    st.leading->learn(in, *st.log);
  self->delayed_send(self, st.change_timeout, api::replace_atom::value, st.changes);
  replicate(self);  // the learner's first batch, or the removal at once
  return caf::delegated<bool>{};
}

// Rule 3, once a majority promised: start from the most up-to-date log, then
// lead with an entry of the new epoch (which commits the tail it adopted).
void lead(self_ptr self) {
  auto& st = self->state;
  auto& t = *st.taking;
  st.adopting = false;
  retire_room(self);
  if (t.committed() > st.log->last_index()) {
    // The log it adopted lacks an entry a copy called committed: that would
    // be a broken rule, not something to serve from. Give the room up.
    st.taking.reset();
    return tell_ready(st, fail(errc::unavailable, "this copy's log lacks committed entries"));
  }
  st.log->commit(t.committed());
  apply_committed(st);
  st.leading.emplace(t.of(), followers(st), *st.log);
  st.taking.reset();
  tell_manager(self);
  auto first = st.log->append_local("", "");
  if (!first) {
    st.leading.reset();  // the disk failed: a later take tries again
    return tell_ready(st, first.error());
  }
  st.first_of_epoch = *first;
  rebuild_keys(st);
  replicate(self);
}

void give_up(self_ptr self, const rep::epoch& e) {
  auto& st = self->state;
  if (st.taking && st.taking->of() == e) {
    st.taking.reset();
    st.adopting = false;
    tell_ready(st, fail(errc::unavailable, "no majority of the room's copies answered: retry"));
  }
}

// Copies the entries after `after` from `best` until its log's end, page by
// page, then leads. Each fetch names the epoch `best` promised: a copy that
// has promised a newer one since (and may have changed its log) refuses, so
// the pages all come from one log.
void adopt_from(self_ptr self, const std::string& best, rep::position until, std::uint64_t after,
                std::shared_ptr<std::vector<rep::entry>> got) {
  auto& st = self->state;
  auto e = st.taking->of();
  auto peer = st.peers.find(best);
  if (peer == st.peers.end())
    return give_up(self, e);
  auto from = after + got->size();
  self->request(peer->second, st.timeout, api::fetch_atom::value, st.room, e, from,
                static_cast<std::uint64_t>(st.batch_max))
      .then(
          [=](std::vector<rep::entry>& page) mutable {
            auto& st = self->state;
            if (!st.taking || st.taking->of() != e || st.log->promised() != e)
              return;  // overtaken meanwhile
            bool done = page.empty();
            for (auto& x : page) {
              if (x.index != after + got->size() + 1)
                return give_up(self, e);  // not the contiguous range asked for
              done = done || x.index >= until.index;
              got->push_back(std::move(x));
            }
            if (!done)
              return adopt_from(self, best, until, after, got);
            if (st.log->adopt(after, std::move(*got)))
              return give_up(self, e);
            lead(self);
          },
          [self, e](const caf::error&) { give_up(self, e); });  // a later take tries a newer epoch
}

void on_promise(self_ptr self, const rep::epoch& e, const std::string& from, const rep::prepare_reply& reply);

// Asks the members of the set the promises count against that were not
// asked yet (a promise may name a newer set).
void ask(self_ptr self, const rep::epoch& e) {
  auto& st = self->state;
  auto set = st.taking->copies();
  for (auto& name : st.taking->to_ask()) {
    auto peer = st.peers.find(name);
    if (name == st.node || peer == st.peers.end())
      continue;
    self->request(peer->second, st.timeout, api::prepare_atom::value, st.room, set, e)
        .then([self, e, name](const rep::prepare_reply& r) { on_promise(self, e, name, r); }, [](const caf::error&) {});
  }
}

void on_promise(self_ptr self, const rep::epoch& e, const std::string& from, const rep::prepare_reply& reply) {
  auto& st = self->state;
  if (!st.taking || st.taking->of() != e || st.adopting)
    return;
  if (!st.taking->on_reply(from, reply)) {
    learn_epoch(self, st.taking->newer());
    give_up(self, e);
    return;
  }
  ask(self, e);
  if (!st.taking->has_majority() || st.log->promised() != e)
    return;
  auto best = st.taking->best();
  auto until = st.taking->best_last();
  if (best == st.node || until <= st.log->last())
    return lead(self);
  // Entries up to this copy's commit point are the same in every log.
  st.adopting = true;
  adopt_from(self, best, until, st.log->committed(), std::make_shared<std::vector<rep::entry>>());
}

void take(self_ptr self) {
  auto& st = self->state;
  if (st.leading || st.taking)
    return;
  auto counter = std::max(st.log->promised().counter, st.newest_seen.counter) + 1;
  rep::epoch e{counter, st.node};
  st.taking.emplace(e, st.log->copies());
  auto mine = st.log->on_prepare(e);
  if (!mine)
    return give_up(self, e);
  on_promise(self, e, st.node, *mine);  // and asks the others
  // Without a majority's promises in time, give up: a later take tries a
  // newer epoch. (Fetching the log afterwards has a timeout per page.)
  if (st.taking)
    self->delayed_send(self, st.timeout, api::timeout_atom::value, e);
}

caf::result<std::uint64_t> write(self_ptr self, std::string& key, std::string& payload) {
  auto& st = self->state;
  if (!st.leading)
    return fail(errc::unavailable, "this copy is not the room's owner: retry");
  std::uint64_t index = 0;
  if (auto it = key.empty() ? st.keys.end() : st.keys.find(key); it != st.keys.end()) {
    index = it->second;
    if (index <= st.log->committed())
      return index;
  } else {
    // Its place in the log: the owner alone appends, in this order.
    index = st.log->last_index() + st.unsaved.size() + 1;
    if (!key.empty())
      st.keys.emplace(key, index);
    st.unsaved.emplace_back(std::move(key), std::move(payload));
    if (st.unsaved.size() == 1)
      self->send(self, api::flush_atom::value);  // after the writes already queued
  }
  auto rp = self->make_response_promise<std::uint64_t>();
  st.acks.emplace(index, rp);
  return rp;
}

// The writes taken since the last flush go to the log in one batch, then to
// the followers.
void flush(self_ptr self) {
  auto& st = self->state;
  if (st.unsaved.empty() || !st.leading)
    return;
  auto items = std::move(st.unsaved);
  st.unsaved.clear();
  if (!st.log->append_local(std::move(items)))
    return step_down(self);  // the disk failed: the writers retry, a later take starts again
  replicate(self);
}

}  // namespace

bool serving(const replica_state& st) {
  // Everything in its log committed and applied, nothing waiting to be
  // written: the room's state in the store is the whole log, so a room
  // actor started from it assigns the next seq right.
  // (first_of_epoch is in the log, so a whole log committed covers it.)
  return st.leading && st.first_of_epoch > 0 && st.log->committed() == st.log->last_index() &&
         st.applied == st.log->committed() && st.unsaved.empty();
}

caf::behavior replica_actor(self_ptr self, api::room_id room, std::string node, std::shared_ptr<rep::copy> log,
                            std::function<caf::error(const rep::entry&)> apply, caf::actor manager, replica_sync sync) {
  auto& st = self->state;
  st.sync = std::move(sync);
  if (st.sync.syncer)
    log->defer_sync();
  st.room = std::move(room);
  st.node = std::move(node);
  st.log = std::move(log);
  st.apply = std::move(apply);
  st.manager = std::move(manager);
  st.told_copies = st.log->copies();  // the manager started the copy with it
  // What the copy had committed when it saved its promise was applied
  // before (the promise is fsynced after those writes).
  st.applied = st.log->committed();
  rebuild_keys(st);
  return {
      [=](api::peers_atom, std::map<std::string, caf::actor>& peers) {
        self->state.peers = std::move(peers);
        replicate(self);
      },
      [=](api::take_atom) -> caf::result<bool> {
        auto& st = self->state;
        if (serving(st))
          return true;
        st.ready.push_back(self->make_response_promise());
        take(self);
        return caf::delegated<bool>{};
      },
      [=](api::timeout_atom, const rep::epoch& e) {
        if (!self->state.adopting)
          give_up(self, e);
      },
      [=](api::write_atom, std::string& key, std::string& payload) { return write(self, key, payload); },
      [=](api::flush_atom) { flush(self); },
      [=](api::read_atom, std::uint64_t after, std::uint64_t max) {
        auto& log = *self->state.log;
        auto n = log.committed() > after ? std::min(max, log.committed() - after) : 0;
        return log.range(after, n);
      },
      [=](api::prepare_atom, const api::room_id&, const std::vector<std::string>&,
          const rep::epoch& e) -> caf::result<rep::prepare_reply> {
        learn_epoch(self, e);
        auto& st = self->state;
        // A newer takeover than this node's own ends its own.
        if (st.taking && st.taking->of() < e)
          give_up(self, st.taking->of());
        return st.log->on_prepare(e);
      },
      [=](api::append_atom, const api::room_id&, const std::vector<std::string>&,
          const rep::append_request& req) -> caf::result<rep::append_reply> {
        ++self->state.appends;
        learn_epoch(self, req.by);
        auto& st = self->state;
        if (st.taking && st.taking->of() < req.by)
          give_up(self, st.taking->of());
        auto before = st.log->taken();
        auto cut = st.log->truncated();
        auto reply = st.log->on_append(req);
        api::node_metrics().replica_entries_in.fetch_add(st.log->taken() - before, std::memory_order_relaxed);
        if (st.log->truncated() != cut) {
          // Answers waiting for an fsync name entries that are gone: their
          // owners send again.
          for (auto& [r, rp] : st.unsynced)
            rp.deliver(fail(errc::unavailable, "this copy's log was cut since: send again"));
          st.unsynced.clear();
        }
        apply_committed(st);
        tell_manager(self);
        if (!reply || !reply->ok || reply->index <= st.log->synced())
          return reply;
        // What it acknowledges is answered once it is durable.
        auto rp = self->make_response_promise<rep::append_reply>();
        st.unsynced.emplace_back(*reply, rp);
        sync_log(self);
        return rp;
      },
      [=](api::retry_atom, const std::string& follower) { send_batch(self, follower); },
      // Told by its owner that it left the set: it goes if its own committed
      // log says so. (Not checked on its own: a learner's log leaves it out
      // of the set until the entry that adds it.)
      [=](api::dropped_atom, const api::room_id&) {
        auto& st = self->state;
        auto& set = st.log->copies();
        bool out = std::find(set.begin(), set.end(), st.node) == set.end();
        if (!out || st.log->committed() < st.log->copies_index() || st.leading || st.taking || !st.unsynced.empty())
          return;
        self->send(st.manager, api::dropped_atom::value, st.room, true);
        self->quit();
      },
      // For the admin view: the copy set and the epoch this copy promised.
      [=](api::admin_atom) {
        return caf::make_message(self->state.log->copies(), self->state.log->promised().counter);
      },
      [=](api::replace_atom, std::string& out, std::string& in) {
        return replace(self, std::move(out), std::move(in));
      },
      [=](api::replace_atom, std::uint64_t id) {
        auto& st = self->state;
        if (st.changing && st.changing->id == id) {
          if (st.leading && !st.changing->in.empty())
            st.leading->forget_learner(st.changing->in);
          st.changing->rp.deliver(fail(errc::unavailable, "the copy-set change did not finish in time"));
          st.changing.reset();
        }
      },
      // The room actor gave up on a write: what is in flight is settled by
      // the next takeover, before anyone serves the room again.
      [=](api::resign_atom) { step_down(self); },
      [=](api::fetch_atom, const api::room_id&, const rep::epoch& e, std::uint64_t after,
          std::uint64_t max) -> caf::result<std::vector<rep::entry>> {
        auto& log = *self->state.log;
        if (log.promised() != e)
          return fail(errc::conflict, "this copy has promised another epoch");
        return log.range(after, max);
      },
  };
}

}  // namespace confab::actors
