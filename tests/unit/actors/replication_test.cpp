#define CAF_SUITE replication
#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/dsl.hpp>

#include <caf/binary_serializer.hpp>

#include <map>
#include <memory>

#include "actors/replica.hpp"
#include "actors/replica_log.hpp"
#include "actors/room_change.hpp"
#include "api/atoms.hpp"
#include "api/errors.hpp"
#include "cluster/replication.hpp"
#include "storage/store.hpp"
#include "tests/unit/helpers.hpp"

using namespace confab;
namespace rep = confab::cluster::replication;

namespace {

rep::epoch ep(std::uint64_t counter, std::string node) {
  return {counter, std::move(node)};
}

rep::entry ent(rep::epoch by, std::uint64_t index, std::string payload) {
  return {std::move(by), index, "", std::move(payload)};
}

rep::append_request app(rep::epoch by, std::uint64_t prev_index, rep::epoch prev_epoch, std::vector<rep::entry> entries,
                        std::uint64_t committed) {
  rep::append_request r;
  r.by = std::move(by);
  r.prev_index = prev_index;
  r.prev_epoch = std::move(prev_epoch);
  r.entries = std::move(entries);
  r.committed = committed;
  return r;
}

std::string nth(const char* prefix, int i) {
  std::string out = prefix;
  out += std::to_string(i);
  return out;
}

std::vector<std::string> payloads(const rep::copy& c) {
  std::vector<std::string> out;
  for (std::uint64_t i = 1; i <= c.last_index(); ++i)
    out.push_back(c.at(i).payload);
  return out;
}

}  // namespace

// -- the rules on plain values ---------------------------------------------------

CAF_TEST(a copy refuses prepares and appends of epochs older than its promise) {
  rep::copy c;
  CAF_CHECK(c.on_prepare(ep(2, "b"))->ok);
  auto old = *c.on_prepare(ep(1, "z"));
  CAF_CHECK(!old.ok);
  CAF_CHECK(old.promised == ep(2, "b"));
  auto stale = *c.on_append(app(ep(1, "z"), 0, rep::epoch{}, {ent(ep(1, "z"), 1, "x")}, 0));
  CAF_CHECK(!stale.ok);
  CAF_CHECK(stale.promised == ep(2, "b"));
  CAF_CHECK_EQUAL(c.last_index(), 0u);
  // Same counter, higher node id: newer.
  CAF_CHECK(c.on_append(app(ep(2, "c"), 0, rep::epoch{}, {ent(ep(2, "c"), 1, "y")}, 0))->ok);
  CAF_CHECK(c.promised() == ep(2, "c"));
  CAF_CHECK(!c.on_prepare(ep(2, "b"))->ok);
}

CAF_TEST(log matching asks for the missing range and truncates only what is not committed) {
  rep::copy c;
  auto e1 = ep(1, "a");
  CAF_REQUIRE(c.on_append(app(e1, 0, rep::epoch{}, {ent(e1, 1, "1"), ent(e1, 2, "2"), ent(e1, 3, "3")}, 1))->ok);
  CAF_CHECK_EQUAL(c.committed(), 1u);
  // A batch after a gap: the owner is told where to start.
  auto gap = *c.on_append(app(e1, 5, e1, {ent(e1, 6, "6")}, 1));
  CAF_CHECK(!gap.ok);
  CAF_CHECK_EQUAL(gap.index, 4u);
  // A new owner whose entry 2 is of another epoch: refused, sent back to the
  // first entry of the epoch that differs after the commit point.
  auto e2 = ep(2, "b");
  auto differs = *c.on_append(app(e2, 3, e2, {ent(e2, 4, "4'")}, 2));
  CAF_CHECK(!differs.ok);
  CAF_CHECK_EQUAL(differs.index, 2u);
  // From there the follower takes the owner's entries and drops its own.
  auto ok = *c.on_append(app(e2, 1, e1, {ent(e1, 2, "2"), ent(e2, 3, "3'"), ent(e2, 4, "4'")}, 4));
  CAF_CHECK(ok.ok);
  CAF_CHECK_EQUAL(ok.index, 4u);
  CAF_CHECK_EQUAL(payloads(c), (std::vector<std::string>{"1", "2", "3'", "4'"}));
  CAF_CHECK_EQUAL(c.truncated(), 1u);
  CAF_CHECK_EQUAL(c.committed(), 4u);
  // The same batch again changes nothing (a retry after a lost answer).
  CAF_CHECK(c.on_append(app(e2, 1, e1, {ent(e1, 2, "2"), ent(e2, 3, "3'")}, 4))->ok);
  CAF_CHECK_EQUAL(c.last_index(), 4u);
  CAF_CHECK_EQUAL(c.truncated(), 1u);
}

CAF_TEST(an owner commits by counting only entries of its own epoch) {
  // Raft's figure 8: entry 2 of epoch 1 is on a majority, but an owner of
  // epoch 2 may not count it as committed until an entry of epoch 2 after it is.
  rep::copy local;
  auto e1 = ep(1, "a");
  CAF_REQUIRE(local.on_append(app(e1, 0, rep::epoch{}, {ent(e1, 1, "1"), ent(e1, 2, "2")}, 1))->ok);
  auto e2 = ep(2, "a");
  CAF_REQUIRE(local.on_prepare(e2)->ok);
  rep::owner o(e2, {"b", "c"}, local);
  CAF_CHECK_EQUAL(o.majority(), 2u);
  auto batch = o.batch_for("b", local, 100);
  CAF_REQUIRE(batch);
  CAF_CHECK(batch->entries.empty());         // starts after its own log; b's answer walks it back
  CAF_CHECK(!o.batch_for("b", local, 100));  // one batch in flight per follower
  CAF_CHECK(o.on_reply("b", {true, e2, 2}));
  CAF_CHECK_EQUAL(o.commit_point(local), 1u);  // 2 is held by a and b, but of epoch 1
  auto three = *local.append_local("", "3");
  CAF_CHECK_EQUAL(o.commit_point(local), 1u);  // only a has 3
  batch = o.batch_for("b", local, 100);
  CAF_REQUIRE(batch);
  CAF_CHECK_EQUAL(batch->prev_index, 2u);
  CAF_CHECK_EQUAL(batch->entries.size(), 1u);
  CAF_CHECK(o.on_reply("b", {true, e2, three}));
  CAF_CHECK_EQUAL(o.commit_point(local), 3u);  // 3 on a majority: 1-3 committed
  // A follower that promised a newer epoch ends this owner.
  CAF_CHECK(!o.on_reply("c", {false, ep(3, "c"), 0}));
}

CAF_TEST(a takeover starts from the most up to date log of its majority) {
  rep::takeover t(ep(3, "a"), {"a", "b", "c"});
  CAF_CHECK(t.on_reply("a", {true, ep(3, "a"), {ep(1, "a"), 7}, 5, {}}));
  CAF_CHECK(!t.has_majority());
  CAF_CHECK(t.on_reply("b", {true, ep(3, "a"), {ep(2, "b"), 6}, 6, {}}));
  CAF_CHECK(t.has_majority());
  // A higher epoch beats a longer log.
  CAF_CHECK_EQUAL(t.best(), "b");
  CAF_CHECK(t.best_last() == (rep::position{ep(2, "b"), 6}));
  CAF_CHECK_EQUAL(t.committed(), 6u);
  CAF_CHECK(!t.on_reply("c", {false, ep(4, "c"), rep::position{}, 0, {}}));
  CAF_CHECK(t.newer() == ep(4, "c"));
}

// -- copy-set changes (docs/REPLICATION.md, "Changing a copy set") --------------

namespace {

using names_t = std::vector<std::string>;

// A promise for `e` from a copy whose log ends at (last_by, last_index).
rep::prepare_reply promise_of(const rep::epoch& e, const rep::epoch& last_by, std::uint64_t last_index,
                              std::uint64_t committed, names_t copies) {
  rep::prepare_reply r;
  r.ok = true;
  r.promised = e;
  r.last.by = last_by;
  r.last.index = last_index;
  r.committed = committed;
  r.copies = std::move(copies);
  return r;
}

rep::entry set_entry(rep::epoch by, std::uint64_t index, const names_t& copies) {
  auto e = rep::copies_entry(copies);
  e.by = std::move(by);
  e.index = index;
  return e;
}

}  // namespace

CAF_TEST(a copy set is the one of the last copies entry of the log and reverts when that entry is cut) {
  rep::copy c{names_t{"a", "b", "c"}};
  CAF_CHECK(c.copies() == (names_t{"a", "b", "c"}));
  CAF_CHECK_EQUAL(c.copies_index(), 0u);
  auto e1 = ep(1, "a");
  CAF_CHECK(c.on_append(app(e1, 0, rep::epoch{}, {ent(e1, 1, ""), set_entry(e1, 2, {"a", "b", "c", "d"})}, 1))->ok);
  // In force once in the log, committed or not (Raft's rule).
  CAF_CHECK(c.copies() == (names_t{"a", "b", "c", "d"}));
  CAF_CHECK_EQUAL(c.copies_index(), 2u);
  CAF_CHECK(rep::copies_of(c.at(2)) == (names_t{"a", "b", "c", "d"}));
  // A new owner that never had entry 2 cuts it: the set before it is back.
  auto e2 = ep(2, "b");
  CAF_CHECK(c.on_prepare(e2)->ok);
  CAF_CHECK(c.on_append(app(e2, 1, e1, {ent(e2, 2, "x")}, 1))->ok);
  CAF_CHECK(c.copies() == (names_t{"a", "b", "c"}));
  CAF_CHECK_EQUAL(c.copies_index(), 0u);
  // The promise tells a takeover which set this copy is in.
  CAF_CHECK(c.on_prepare(ep(3, "c"))->copies == (names_t{"a", "b", "c"}));
  // A payload that merely looks like a set is not one: only the key counts.
  CAF_CHECK(c.on_append(app(ep(3, "c"), 2, e2, {ent(ep(3, "c"), 3, "a\nb\n")}, 2))->ok);
  CAF_CHECK_EQUAL(c.copies_index(), 0u);
}

CAF_TEST(a learner gets the log but counts for nothing until a copies entry names it) {
  rep::copy local{names_t{"a", "b", "c"}};
  auto e = ep(1, "a");
  CAF_REQUIRE(local.on_prepare(e)->ok);
  rep::owner o{e, {"b", "c"}, local};
  auto first = local.append_local("k1", "m1");
  CAF_REQUIRE(first);
  o.learn("d", local);
  CAF_CHECK_EQUAL(o.majority(), 2u);
  CAF_CHECK(o.followers() == (names_t{"b", "c", "d"}));
  auto to_d = o.batch_for("d", local, 100);
  CAF_REQUIRE(to_d);
  CAF_CHECK(o.on_reply("d", {true, e, *first}));
  CAF_CHECK_EQUAL(o.match("d"), *first);
  CAF_CHECK_EQUAL(o.commit_point(local), 0u);  // a and the learner d: no majority of {a, b, c}
  CAF_REQUIRE(o.batch_for("b", local, 100));
  CAF_CHECK(o.on_reply("b", {true, e, *first}));
  CAF_CHECK_EQUAL(o.commit_point(local), *first);
  // d joins: a set of four, three make a majority, d among them.
  auto joined = rep::copies_entry({"a", "b", "c", "d"});
  auto at = local.append_local(joined.key, joined.payload);
  CAF_REQUIRE(at);
  o.follow(local.copies(), "a", local);
  CAF_CHECK_EQUAL(o.majority(), 3u);
  CAF_REQUIRE(o.batch_for("d", local, 100));
  CAF_CHECK(o.on_reply("d", {true, e, *at}));
  CAF_CHECK_EQUAL(o.commit_point(local), *first);  // a and d: two of four
  CAF_REQUIRE(o.batch_for("b", local, 100));
  CAF_CHECK(o.on_reply("b", {true, e, *at}));
  CAF_CHECK_EQUAL(o.commit_point(local), *at);
  // c leaves: a, b, d decide; c is a learner, sent the entry that removed
  // it, until forgotten.
  auto left = rep::copies_entry({"a", "b", "d"});
  auto at2 = local.append_local(left.key, left.payload);
  CAF_REQUIRE(at2);
  o.follow(local.copies(), "a", local);
  CAF_CHECK(o.followers() == (names_t{"b", "c", "d"}));
  CAF_CHECK_EQUAL(o.majority(), 2u);
  CAF_REQUIRE(o.batch_for("c", local, 100));
  CAF_CHECK(o.on_reply("c", {true, e, *at2}));
  CAF_CHECK_EQUAL(o.commit_point(local), *at);  // c counts for nothing now
  CAF_REQUIRE(o.batch_for("d", local, 100));
  CAF_CHECK(o.on_reply("d", {true, e, *at2}));
  CAF_CHECK_EQUAL(o.commit_point(local), *at2);
  o.forget_learner("c");
  CAF_CHECK(o.followers() == (names_t{"b", "d"}));
  CAF_CHECK(!o.batch_for("c", local, 100));
  CAF_CHECK_EQUAL(o.match("c"), 0u);
  // A learner that is forgotten is sent nothing more; a voter is not forgotten.
  o.learn("e", local);
  o.forget_learner("e");
  o.forget_learner("d");
  CAF_CHECK(o.followers() == (names_t{"b", "d"}));
}

CAF_TEST(a takeover counts promises against the set of the most up to date log and asks its new members) {
  rep::takeover t(ep(5, "a"), {"a", "b", "c"});
  CAF_CHECK(t.to_ask() == (names_t{"a", "b", "c"}));
  CAF_CHECK(t.on_reply("a", promise_of(ep(5, "a"), ep(1, "a"), 3, 3, {"a", "b", "c"})));
  CAF_CHECK(!t.has_majority());
  // b's log is newer and holds the change that replaced c with d.
  CAF_CHECK(t.on_reply("b", promise_of(ep(5, "a"), ep(2, "b"), 5, 4, {"a", "b", "d"})));
  CAF_CHECK(t.copies() == (names_t{"a", "b", "d"}));
  CAF_CHECK(t.to_ask() == (names_t{"d"}));
  CAF_CHECK(t.to_ask().empty());
  CAF_CHECK(t.has_majority());  // a and b of {a, b, d}
  // c's promise alone would not have been enough with a's: c is out.
  rep::takeover u(ep(5, "a"), {"a", "b", "c"});
  CAF_CHECK(u.on_reply("a", promise_of(ep(5, "a"), ep(1, "a"), 3, 3, {"a", "b", "c"})));
  CAF_CHECK(u.on_reply("d", promise_of(ep(5, "a"), ep(2, "b"), 5, 5, {"a", "b", "d"})));
  CAF_CHECK(u.copies() == (names_t{"a", "b", "d"}));
  CAF_CHECK(u.has_majority());
  // A node that the newest set left out cannot take the room at all.
  rep::takeover v(ep(6, "c"), {"a", "b", "c"});
  CAF_CHECK(v.on_reply("c", promise_of(ep(6, "c"), ep(1, "a"), 3, 3, {"a", "b", "c"})));
  CAF_CHECK(v.on_reply("b", promise_of(ep(6, "c"), ep(2, "b"), 5, 5, {"a", "b", "d"})));
  CAF_CHECK(v.on_reply("a", promise_of(ep(6, "c"), ep(2, "b"), 5, 5, {"a", "b", "d"})));
  CAF_CHECK(!v.has_majority());
}

// -- three copies as actors, on the deterministic scheduler -----------------------

namespace {

// The answers to writes, by key: an index, or an error code.
struct answers {
  std::map<std::string, std::uint64_t> index;
  std::map<std::string, api::errc> errors;
};

// A syncer that answers only when told to (flush_atom): an fsync that takes
// as long as the test wants.
using held_syncs = std::vector<caf::typed_response_promise<std::uint64_t>>;
caf::behavior slow_syncer(caf::event_based_actor* self, std::shared_ptr<held_syncs> held) {
  return {
      [=](api::fsync_atom, std::uint64_t) -> caf::result<std::uint64_t> {
        auto rp = self->make_response_promise<std::uint64_t>();
        held->push_back(rp);
        return rp;
      },
      [=](api::flush_atom) {
        for (auto& rp : *held)
          rp.deliver(std::uint64_t{1});
        held->clear();
      },
  };
}

// A room manager that records which rooms its copies told it to retire the
// room actor of (their epoch ended or a new one began).
caf::behavior manager_probe(caf::event_based_actor*, std::shared_ptr<std::vector<std::string>> retired) {
  return {
      [=](api::resign_atom, const api::room_id& id) { retired->push_back(id.value); },
      [](api::copies_atom, const api::room_id&, const std::vector<std::string>&) {},
      [](api::dropped_atom, const api::room_id&, bool) {},
  };
}

caf::behavior writer(caf::event_based_actor* self, std::shared_ptr<answers> out) {
  return {
      [=](api::write_atom, const caf::actor& dest, const std::string& key, const std::string& payload) {
        self->request(dest, std::chrono::seconds(10), api::write_atom::value, key, payload)
            .then([=](std::uint64_t i) { out->index[key] = i; },
                  [=](const caf::error& e) { out->errors[key] = api::describe(e).code; });
      },
  };
}

struct cluster_fixture : test_coordinator_fixture<> {
  std::vector<std::string> names{"a", "b", "c"};
  api::room_id room{"r_test"};
  // Each node's RocksDB, outliving its actor, and the copy loaded from it.
  std::map<std::string, std::unique_ptr<test::temp_dir>> dirs;
  std::map<std::string, std::shared_ptr<storage::store>> stores;
  std::map<std::string, std::shared_ptr<rep::copy>> disk;
  std::map<std::string, caf::actor> nodes;
  std::shared_ptr<answers> got = std::make_shared<answers>();
  caf::actor client;
  // What each node's replica applied (the payloads of committed entries),
  // over all its incarnations.
  std::map<std::string, std::shared_ptr<std::vector<std::string>>> applied;
  // A payload whose first apply fails on that node (a store error).
  std::map<std::string, std::shared_ptr<std::string>> fail_once;

  cluster_fixture() {
    for (auto& n : names) {
      dirs[n] = std::make_unique<test::temp_dir>();
      stores[n] = test::value(storage::store::open(dirs[n]->path()));
      start(n);
    }
    client = sys.spawn(writer, got);
    links({{"a", "b"}, {"a", "c"}, {"b", "c"}});
  }

  ~cluster_fixture() {
    for (auto& [n, a] : nodes)
      anon_send_exit(a, caf::exit_reason::kill);
    anon_send_exit(client, caf::exit_reason::kill);
    sched.run();
  }

  // Starts (or restarts) node n from what its store has (a new copy of the
  // set `fresh`, by default the fixture's three).
  void start(const std::string& n, std::vector<std::string> fresh = {}, actors::replica_sync sync = {},
             caf::actor manager = {}) {
    if (fresh.empty())
      fresh = names;
    auto loaded = test::value(actors::replica_log::load(stores[n]->log(), room, fresh));
    disk[n] = std::make_shared<rep::copy>(std::move(loaded.log));
    auto& out = applied[n];
    if (!out)
      out = std::make_shared<std::vector<std::string>>();
    auto& failing = fail_once[n];
    if (!failing)
      failing = std::make_shared<std::string>();
    auto apply = [out, failing](const rep::entry& e) -> caf::error {
      if (!e.payload.empty() && e.payload == *failing) {
        failing->clear();
        return api::fail(api::errc::unavailable, "the store failed");
      }
      if (!e.payload.empty())
        out->push_back(e.payload);
      return caf::none;
    };
    nodes[n] = sys.spawn(actors::replica_actor, room, n, disk[n], std::function<caf::error(const rep::entry&)>{apply},
                         std::move(manager), std::move(sync));
  }

  // kill -9 before `n` handles anything more; a writer waiting for it hears
  // nothing and times out.
  void crash(const std::string& n) {
    anon_send_exit(nodes[n], caf::exit_reason::kill);
    sched.prioritize(nodes[n]);
    sched.run_once();
    nodes.erase(n);
    sched.run();
  }

  // Node n tries to take the log, and everything is delivered.
  void take(const std::string& n) {
    anon_send(nodes[n], api::take_atom::value);
    sched.run();
  }

  // Lets every timer that is due fire (request timeouts, retries).
  void time_passes() {
    sched.trigger_timeouts();
    sched.run();
  }

  // Which nodes can reach each other (both ways); the rest are cut.
  void links(const std::vector<std::pair<std::string, std::string>>& up) {
    for (auto& [n, actor] : nodes) {
      std::map<std::string, caf::actor> peers;
      for (auto& [x, y] : up) {
        if (x == n && nodes.count(y) > 0)
          peers[y] = nodes[y];
        if (y == n && nodes.count(x) > 0)
          peers[x] = nodes[x];
      }
      anon_send(actor, api::peers_atom::value, peers);
    }
  }

  void write(const std::string& n, const std::string& key, const std::string& payload) {
    anon_send(client, api::write_atom::value, nodes[n], key, payload);
  }

  // Lets a slow syncer answer until nothing waits for it (a few rounds: what
  // is written while one fsync runs waits for the next).
  void release(const caf::actor& syncer, const std::shared_ptr<held_syncs>& held) {
    for (int i = 0; i < 10 && !held->empty(); ++i) {
      anon_send(syncer, api::flush_atom::value);
      sched.run();
    }
  }

  // Delivers everything except to `paused` (a SIGSTOPped process).
  void run_except(const std::string& paused) {
    auto* p = dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(nodes[paused]));
    sched.run_jobs_filtered([p](caf::resumable* job) { return job != p; });
  }

  // The payloads of one copy's committed entries, without the empty entries
  // that open each epoch and the copies entries.
  std::vector<std::string> history(const std::string& n) {
    std::vector<std::string> out;
    auto& c = *disk[n];
    for (std::uint64_t i = 1; i <= c.committed(); ++i)
      if (!c.at(i).payload.empty() && !rep::is_copies(c.at(i)))
        out.push_back(c.at(i).payload);
    return out;
  }

  bool same_logs(const std::string& x, const std::string& y) {
    auto &a = *disk[x], &b = *disk[y];
    if (a.last_index() != b.last_index())
      return false;
    for (std::uint64_t i = 1; i <= a.last_index(); ++i)
      if (!(a.at(i) == b.at(i)))
        return false;
    return true;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(replicas, cluster_fixture)

CAF_TEST(writes are acknowledged once a majority holds them and reach every copy in batches) {
  take("a");
  CAF_CHECK(disk["b"]->promised() == ep(1, "a"));
  auto disk_writes = stores["a"]->written();
  for (int i = 0; i < 50; ++i)
    write("a", nth("k", i), nth("m", i));
  sched.run();
  // The owner wrote the 50 entries to its log in a few batches (one fsync
  // each under --durability fsync), not 50 times (the fixture applies
  // entries to a list, not to the store).
  CAF_CHECK_LESS(stores["a"]->written() - disk_writes, 5u);
  CAF_CHECK_EQUAL(got->index.size(), 50u);
  CAF_CHECK(got->errors.empty());
  CAF_CHECK_EQUAL(got->index["k0"], 2u);  // after the entry that opened epoch 1
  CAF_CHECK_EQUAL(got->index["k49"], 51u);
  CAF_CHECK(same_logs("a", "b"));
  CAF_CHECK(same_logs("a", "c"));
  CAF_CHECK_EQUAL(history("a").size(), 50u);
  CAF_CHECK_EQUAL(disk["a"]->committed(), 51u);
  // 50 writes queued together went out in a handful of batches, not 50.
  CAF_CHECK_LESS(deref<caf::stateful_actor<actors::replica_state>>(nodes["b"]).state.appends, 6u);
  // A write that is retried (same key) answers its first index.
  write("a", "k7", "m7 again");
  sched.run();
  CAF_CHECK_EQUAL(got->index["k7"], 9u);
  CAF_CHECK_EQUAL(disk["a"]->last_index(), 51u);
  // A copy that is not the owner refuses writes.
  write("b", "x", "x");
  sched.run();
  CAF_CHECK(got->errors["x"] == api::errc::unavailable);
}

CAF_TEST(a take is answered once the copy serves and every copy applies what is committed once) {
  auto h = self->request(nodes["a"], caf::infinite, api::take_atom::value);
  sched.run();
  bool serving = false;
  h.receive([&](bool ok) { serving = ok; }, [&](const caf::error&) {});
  CAF_CHECK(serving);
  std::vector<std::string> want;
  for (int i = 0; i < 5; ++i) {
    write("a", nth("k", i), nth("m", i));
    want.push_back(nth("m", i));
  }
  sched.run();
  CAF_CHECK_EQUAL(*applied["a"], want);
  // Followers apply what the owner told them is committed.
  CAF_CHECK(applied["b"]->size() <= want.size());
  write("a", "k5", "m5");
  want.push_back("m5");
  sched.run();
  CAF_CHECK_EQUAL(*applied["a"], want);
  CAF_CHECK_EQUAL(std::vector<std::string>(want.begin(), want.begin() + static_cast<long>(applied["b"]->size())),
                  *applied["b"]);
  CAF_CHECK_GREATER_OR_EQUAL(applied["b"]->size(), 5u);
  // A restarted follower applies again from the commit point it saved with
  // its promise (here: before any write), never out of order.
  crash("b");
  applied["b"]->clear();
  start("b");
  links({{"a", "b"}, {"a", "c"}, {"b", "c"}});
  write("a", "k6", "m6");
  want.push_back("m6");
  sched.run();
  time_passes();
  CAF_CHECK_EQUAL(std::vector<std::string>(want.begin(), want.begin() + static_cast<long>(applied["b"]->size())),
                  *applied["b"]);
  CAF_CHECK_GREATER_OR_EQUAL(applied["b"]->size(), 6u);
  // A copy that resigns (its room actor gave up on a write) serves nothing
  // until it takes the room again.
  anon_send(nodes["a"], api::resign_atom::value);
  sched.run();
  write("a", "k7", "m7");
  sched.run();
  CAF_CHECK(got->errors["k7"] == api::errc::unavailable);
  // Without a majority a take is answered with an error, not left waiting.
  links({});
  auto refused = self->request(nodes["a"], caf::infinite, api::take_atom::value);
  sched.run();
  time_passes();
  bool failed = false;
  refused.receive([&](bool) {}, [&](const caf::error& e) { failed = api::describe(e).code == api::errc::unavailable; });
  CAF_CHECK(failed);
}

CAF_TEST(an entry that fails to apply is applied again and none after it goes first) {
  take("a");
  *fail_once["b"] = "m1";
  *fail_once["a"] = "m2";
  for (int i = 0; i < 4; ++i)
    write("a", nth("k", i), nth("m", i));
  sched.run();
  // a could not apply m2 the first time (its acks hold: the log is what is
  // durable); the next commit applies it, then what follows, in order.
  write("a", "k4", "m4");
  sched.run();
  std::vector<std::string> want{"m0", "m1", "m2", "m3", "m4"};
  CAF_CHECK_EQUAL(*applied["a"], want);
  write("a", "k5", "m5");
  sched.run();
  want.push_back("m5");
  CAF_CHECK_EQUAL(std::vector<std::string>(want.begin(), want.begin() + static_cast<long>(applied["b"]->size())),
                  *applied["b"]);
  CAF_CHECK_GREATER_OR_EQUAL(applied["b"]->size(), 4u);
  CAF_CHECK_EQUAL(got->index.size(), 6u);
}

CAF_TEST(a paused owner steps down when it hears of a newer epoch and its write is removed) {
  take("a");
  write("a", "k1", "before");
  sched.run();
  CAF_REQUIRE_EQUAL(got->index.count("k1"), 1u);
  // a stops (SIGSTOP) with a write in its mailbox; b takes the room with c.
  write("a", "k2", "from the paused owner");
  run_except("a");
  anon_send(nodes["b"], api::take_atom::value);
  run_except("a");
  CAF_CHECK(disk["c"]->promised() == ep(2, "b"));
  write("b", "k3", "from the new owner");
  run_except("a");
  CAF_CHECK_EQUAL(got->index.count("k3"), 1u);
  // a wakes up: b's prepare was in its mailbox behind the write, so a steps
  // down before its next flush would have written it (writes go to the log
  // in batches); the writer is told to retry.
  sched.run();
  CAF_CHECK_EQUAL(got->index.count("k2"), 0u);
  CAF_CHECK(got->errors["k2"] == api::errc::unavailable);
  CAF_CHECK(disk["a"]->promised() == ep(2, "b"));
  // b's next batch removes it from a: one history, no fork.
  write("b", "k4", "after");
  sched.run();
  CAF_CHECK(same_logs("a", "b"));
  CAF_CHECK(same_logs("b", "c"));
  CAF_CHECK_EQUAL(history("a"), (std::vector<std::string>{"before", "from the new owner", "after"}));
  CAF_CHECK_EQUAL(disk["a"]->truncated(), 0u);  // it never reached a's log
}

// Found by the nemesis: a room actor kept from an epoch its copy no longer
// leads assigned a seq the next owner had acknowledged. The copy tells its
// manager each time, which retires that room actor (room_manager.cpp).
CAF_TEST(a copy tells its manager to retire the room actor when it leads a new epoch and when it steps down) {
  auto retired = std::make_shared<std::vector<std::string>>();
  crash("a");
  start("a", {}, {}, sys.spawn(manager_probe, retired));
  links({{"a", "b"}, {"a", "c"}, {"b", "c"}});
  take("a");
  write("a", "k1", "first epoch");
  sched.run();
  CAF_REQUIRE_EQUAL(got->index.count("k1"), 1u);
  CAF_CHECK_EQUAL(retired->size(), 1u);  // leading epoch 1: a room actor of before is stale
  // b takes the room: a promises the newer epoch and stops leading.
  take("b");
  CAF_CHECK_EQUAL(retired->size(), 2u);
  write("a", "k2", "to the old owner");
  sched.run();
  CAF_CHECK(got->errors["k2"] == api::errc::unavailable);
  // a takes it back (the repair path after a remove): a third epoch, and
  // the room actor of the first must not serve it.
  take("a");
  CAF_CHECK_EQUAL(retired->size(), 3u);
  CAF_CHECK(std::all_of(retired->begin(), retired->end(), [&](auto& r) { return r == room.value; }));
}

CAF_TEST(a cut off owner whose appends are refused for a newer epoch acknowledges nothing) {
  take("a");
  write("a", "k1", "before");
  sched.run();
  CAF_REQUIRE_EQUAL(got->index.count("k1"), 1u);
  // a is cut off: b takes the room with c and writes; a never hears a
  // prepare or an append of the new epoch.
  links({{"b", "c"}});
  sched.run();
  take("b");
  write("b", "k3", "from the new owner");
  sched.run();
  CAF_CHECK_EQUAL(got->index.count("k3"), 1u);
  // a's links come back on its side only, with a write waiting: its batches
  // of epoch 1 are refused, which alone makes it step down.
  write("a", "k2", "from the old owner");
  std::map<std::string, caf::actor> both{{"b", nodes["b"]}, {"c", nodes["c"]}};
  anon_send(nodes["a"], api::peers_atom::value, both);
  sched.run();
  CAF_CHECK_EQUAL(got->index.count("k2"), 0u);
  CAF_CHECK(got->errors["k2"] == api::errc::unavailable);
  CAF_CHECK(disk["a"]->promised() == ep(1, "a"));  // no prepare or append of epoch 2 reached it
  CAF_CHECK(!deref<caf::stateful_actor<actors::replica_state>>(nodes["a"]).state.leading);
  CAF_CHECK(disk["b"]->last_index() == 4u && disk["c"]->last_index() == 4u);  // without a's entry
  links({{"a", "b"}, {"a", "c"}, {"b", "c"}});
  write("b", "k4", "after");
  sched.run();
  CAF_CHECK(same_logs("a", "b"));
  CAF_CHECK_EQUAL(history("a"), (std::vector<std::string>{"before", "from the new owner", "after"}));
}

CAF_TEST(a new owner copies a long tail in pages that all come from one log) {
  for (auto& [n, actor] : nodes)
    deref<caf::stateful_actor<actors::replica_state>>(actor).state.batch_max = 2;
  take("a");
  links({{"a", "b"}});  // c is cut off while a and b take 5 writes
  for (int i = 0; i < 5; ++i)
    write("a", nth("k", i), nth("m", i));
  sched.run();
  CAF_REQUIRE_EQUAL(got->index.size(), 5u);
  crash("a");
  links({{"b", "c"}});
  take("c");
  CAF_CHECK(disk["c"]->promised() == ep(2, "c"));
  CAF_CHECK_EQUAL(history("c"), (std::vector<std::string>{"m0", "m1", "m2", "m3", "m4"}));
  CAF_CHECK(same_logs("b", "c"));
  // A fetch that names an epoch the copy no longer promises is refused: a
  // takeover cannot splice pages of two logs.
  auto h = self->request(nodes["b"], caf::infinite, api::fetch_atom::value, room, ep(1, "a"), std::uint64_t{0},
                         std::uint64_t{10});
  sched.run();
  bool refused = false;
  h.receive([&](const std::vector<rep::entry>&) {}, [&](const caf::error&) { refused = true; });
  CAF_CHECK(refused);
}

CAF_TEST(a copy keeps the tail of its log in memory and reads older entries from disk) {
  for (auto& n : names)
    disk[n]->keep(4);
  take("a");
  links({{"a", "b"}});  // c is cut off
  for (int i = 0; i < 30; ++i)
    write("a", nth("k", i), nth("m", i));
  sched.run();
  CAF_CHECK_EQUAL(got->index.size(), 30u);
  CAF_CHECK_LESS_OR_EQUAL(disk["a"]->in_memory(), 6u);
  CAF_CHECK_GREATER(disk["a"]->base(), 20u);
  CAF_CHECK_EQUAL(disk["a"]->at(2).payload, "m0");  // from disk
  CAF_CHECK(disk["a"]->epoch_at(2) == ep(1, "a"));
  // c gets the range it missed, most of it read from a's disk
  links({{"a", "b"}, {"a", "c"}, {"b", "c"}});
  sched.run();
  time_passes();
  CAF_CHECK(same_logs("a", "c"));
  CAF_CHECK_EQUAL(history("c"), history("a"));
  CAF_CHECK_EQUAL(history("c").size(), 30u);
  // a new owner starts from a log that is mostly on disk
  crash("a");
  links({{"b", "c"}});
  take("c");
  write("c", "k30", "m30");
  sched.run();
  CAF_CHECK_EQUAL(got->index["k30"], 33u);
  CAF_CHECK(same_logs("b", "c"));
  CAF_CHECK_EQUAL(history("b").size(), 31u);
}

CAF_TEST(a follower that missed a range gets that range) {
  take("a");
  links({{"a", "b"}});  // c is cut off
  for (int i = 0; i < 20; ++i)
    write("a", nth("k", i), nth("m", i));
  sched.run();
  CAF_CHECK_EQUAL(got->index.size(), 20u);  // a and b are a majority
  CAF_CHECK_EQUAL(disk["c"]->last_index(), 1u);
  auto before = disk["c"]->taken();
  links({{"a", "b"}, {"a", "c"}, {"b", "c"}});
  sched.run();
  CAF_CHECK(same_logs("a", "c"));
  CAF_CHECK_EQUAL(disk["c"]->committed(), 21u);
  // Exactly the 20 entries it lacked were sent to it, each once.
  CAF_CHECK_EQUAL(disk["c"]->taken() - before, 20u);
}

CAF_TEST(an owner that dies before any copy has its write loses only that unacknowledged write) {
  take("a");
  write("a", "k1", "one");
  sched.run();
  links({{"b", "c"}});  // a is cut off, then writes and dies
  write("a", "k2", "two");
  sched.run();
  CAF_CHECK_EQUAL(disk["a"]->last_index(), 3u);  // on a's disk only
  CAF_CHECK_EQUAL(got->index.count("k2"), 0u);
  crash("a");
  time_passes();
  CAF_CHECK_EQUAL(got->index.count("k2"), 0u);
  CAF_CHECK(got->errors.count("k2") == 1u);  // the writer saw no ack
  take("b");
  write("b", "k2", "two");  // the client retries with the same key
  sched.run();
  CAF_CHECK_EQUAL(got->index["k2"], 4u);
  // a restarts from its disk and joins: its unacknowledged entry goes.
  start("a");
  links({{"a", "b"}, {"a", "c"}, {"b", "c"}});
  write("b", "k3", "three");
  sched.run();
  for (auto& n : names)
    CAF_CHECK_EQUAL(history(n), (std::vector<std::string>{"one", "two", "three"}));
  CAF_CHECK(same_logs("a", "b"));
  CAF_CHECK_EQUAL(disk["a"]->truncated(), 1u);
}

CAF_TEST(an owner that dies after one follower has its write : the next owner commits it and a retry finds it) {
  take("a");
  links({{"a", "b"}, {"b", "c"}});  // a cannot reach c
  write("a", "k1", "one");
  // a takes the write and sends its batch to b, then dies before b's answer
  // can reach it: b holds k1, nobody acknowledged it.
  for (int i = 0; i < 10 && disk["a"]->last_index() < 2u; ++i)
    sched.run_once();
  CAF_REQUIRE_EQUAL(disk["a"]->last_index(), 2u);
  crash("a");
  CAF_REQUIRE_EQUAL(disk["b"]->last_index(), 2u);
  CAF_CHECK_EQUAL(got->index.count("k1"), 0u);
  // c takes the room: b's log is the most up to date of the majority {b, c}.
  take("c");
  CAF_CHECK(disk["c"]->promised() == ep(2, "c"));
  write("c", "k1", "one");  // the retry
  sched.run();
  CAF_CHECK_EQUAL(got->index["k1"], 2u);  // the first copy, committed by c
  CAF_CHECK_EQUAL(history("c"), (std::vector<std::string>{"one"}));
  CAF_CHECK(same_logs("b", "c"));
}

CAF_TEST(a minority cannot take a room or commit) {
  take("a");
  links({{"b", "c"}});  // a alone
  write("a", "k1", "lonely");
  sched.run();
  CAF_CHECK_EQUAL(got->index.count("k1"), 0u);
  CAF_CHECK_EQUAL(disk["a"]->committed(), 1u);
  // Nor can a restarted a take a new epoch from the minority side.
  crash("a");
  time_passes();
  CAF_CHECK(got->errors.count("k1") == 1u);
  start("a");
  links({{"b", "c"}});
  take("a");
  CAF_CHECK(disk["a"]->promised() == ep(2, "a"));  // its own promise only
  CAF_CHECK(disk["b"]->promised() == ep(1, "a"));
  write("a", "k2", "still lonely");
  sched.run();
  CAF_CHECK(got->errors["k2"] == api::errc::unavailable);
  // The majority side can: b takes (2, "b"), newer than a's (2, "a").
  take("b");
  write("b", "k3", "majority");
  sched.run();
  CAF_CHECK_EQUAL(got->index.count("k3"), 1u);
  CAF_CHECK_EQUAL(history("b"), (std::vector<std::string>{"majority"}));
}

CAF_TEST(a restarted copy has its promise and its log back) {
  take("a");
  write("a", "k1", "one");
  write("a", "k2", "two");
  sched.run();
  crash("b");
  start("b");
  CAF_CHECK(disk["b"]->promised() == ep(1, "a"));
  CAF_CHECK(same_logs("a", "b"));
  CAF_CHECK_EQUAL(disk["b"]->at(3).key, "k2");
  // A corrupt entry on disk is an error when loading, not a silent gap.
  CAF_REQUIRE(!stores["c"]->log().put_log(room, UINT64_MAX, {{2, "not an entry"}}));
  CAF_CHECK(!actors::replica_log::load(stores["c"]->log(), room));
  CAF_REQUIRE(!stores["c"]->log().put_log(room, 1, {}));  // drop entries 2..: a gap-free log again
  CAF_CHECK(actors::replica_log::load(stores["c"]->log(), room));
  CAF_REQUIRE(!stores["c"]->log().put_log(room, UINT64_MAX, {{5, actors::replica_log::encode(disk["a"]->at(3))}}));
  CAF_CHECK(!actors::replica_log::load(stores["c"]->log(), room));  // index 5 after 1: a gap
}

CAF_TEST(a dead copy is replaced by a node that catches up first and then counts in the majority) {
  take("a");
  for (int i = 0; i < 5; ++i)
    write("a", nth("k", i), nth("m", i));
  sched.run();
  CAF_REQUIRE_EQUAL(got->index.size(), 5u);
  crash("c");
  dirs["d"] = std::make_unique<test::temp_dir>();
  stores["d"] = test::value(storage::store::open(dirs["d"]->path()));
  start("d", {"a", "b", "c", "d"});  // as its room manager starts it, from the set an append names
  links({{"a", "b"}, {"a", "d"}, {"b", "d"}});
  // Only the owner changes the set.
  auto refused = self->request(nodes["b"], caf::infinite, api::replace_atom::value, std::string{"c"}, std::string{"d"});
  sched.run();
  bool unavailable = false;
  refused.receive([](bool) {},
                  [&](const caf::error& e) { unavailable = api::describe(e).code == api::errc::unavailable; });
  CAF_CHECK(unavailable);
  auto h = self->request(nodes["a"], caf::infinite, api::replace_atom::value, std::string{"c"}, std::string{"d"});
  write("a", "k5", "m5");  // a write during the change
  sched.run();
  bool replaced = false;
  h.receive([&](bool ok) { replaced = ok; }, [](const caf::error&) {});
  CAF_CHECK(replaced);
  CAF_CHECK_EQUAL(got->index.count("k5"), 1u);
  CAF_CHECK(got->errors.empty());
  for (auto& n : {"a", "b", "d"})
    CAF_CHECK(disk[n]->copies() == (names_t{"a", "b", "d"}));
  CAF_CHECK(same_logs("a", "d"));
  CAF_CHECK(same_logs("a", "b"));
  CAF_CHECK_EQUAL(history("d"), (names_t{"m0", "m1", "m2", "m3", "m4", "m5"}));
  // d's disk says which set it is in, for the room manager's routing.
  auto saved = actors::replica_log::saved_state(stores["d"]->log(), room);
  CAF_REQUIRE(saved);
  CAF_CHECK(saved->current == (names_t{"a", "b", "d"}));
  // Copies entries are the replicas' own: the room never applies one.
  CAF_CHECK_EQUAL(*applied["a"], (names_t{"m0", "m1", "m2", "m3", "m4", "m5"}));
  // With b gone too, a and d are a majority of the new set (of the old one,
  // a alone would be none): writes commit.
  crash("b");
  links({{"a", "d"}});
  write("a", "k6", "m6");
  sched.run();
  CAF_CHECK_EQUAL(got->index.count("k6"), 1u);
  CAF_CHECK(same_logs("a", "d"));
  // And d can take the room with a: it is a full copy now.
  crash("a");
  start("a");
  links({{"a", "d"}});
  take("d");
  write("d", "k7", "m7");
  sched.run();
  CAF_CHECK_EQUAL(got->index.count("k7"), 1u);
  CAF_CHECK_EQUAL(history("a"), (names_t{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"}));
}

CAF_TEST(an owner leaving the set hands the room to the next copy which removes it) {
  take("a");
  for (int i = 0; i < 3; ++i)
    write("a", nth("k", i), nth("m", i));
  sched.run();
  dirs["d"] = std::make_unique<test::temp_dir>();
  stores["d"] = test::value(storage::store::open(dirs["d"]->path()));
  start("d", {"a", "b", "c", "d"});
  links({{"a", "b"}, {"a", "c"}, {"a", "d"}, {"b", "c"}, {"b", "d"}, {"c", "d"}});
  // d joins in a's place: a moves last and steps down once that is committed.
  auto h = self->request(nodes["a"], caf::infinite, api::replace_atom::value, std::string{"a"}, std::string{"d"});
  sched.run();
  bool handed = false;
  h.receive([&](bool ok) { handed = ok; }, [](const caf::error&) {});
  CAF_CHECK(handed);
  for (auto& n : {"a", "b", "c", "d"})
    CAF_CHECK(disk[n]->copies() == (names_t{"b", "c", "d", "a"}));
  auto& st = deref<caf::stateful_actor<actors::replica_state>>(nodes["a"]).state;
  CAF_CHECK(!st.leading);
  // a writes nothing any more: it is told to retry.
  write("a", "k3", "m3");
  sched.run();
  CAF_CHECK_EQUAL(got->index.count("k3"), 0u);
  CAF_CHECK_EQUAL(got->errors.size(), 1u);
  // b, first in the set, takes the room (a majority of four) and removes a;
  // a gets the entry that removed it, then is told to drop its copy, checks
  // its own log, and stops.
  self->monitor(nodes["a"]);
  take("b");
  auto r = self->request(nodes["b"], caf::infinite, api::replace_atom::value, std::string{"a"}, std::string{});
  sched.run();
  bool removed = false;
  r.receive([&](bool ok) { removed = ok; }, [](const caf::error&) {});
  CAF_CHECK(removed);
  for (auto& n : {"a", "b", "c", "d"})
    CAF_CHECK(disk[n]->copies() == (names_t{"b", "c", "d"}));
  CAF_CHECK_GREATER_OR_EQUAL(disk["a"]->committed(), disk["a"]->copies_index());
  bool a_stopped = false;
  self->receive([&](const caf::down_msg&) { a_stopped = true; }, caf::after(std::chrono::seconds(0)) >> [] {});
  CAF_CHECK(a_stopped);
  auto& b_state = deref<caf::stateful_actor<actors::replica_state>>(nodes["b"]).state;
  CAF_CHECK(b_state.dropping.empty());
  CAF_CHECK(b_state.leading->followers() == (names_t{"c", "d"}));
  nodes.erase("a");
  write("b", "k3", "m3");
  sched.run();
  CAF_CHECK_EQUAL(got->index.count("k3"), 1u);
  CAF_CHECK_EQUAL(history("d"), (names_t{"m0", "m1", "m2", "m3"}));
  CAF_CHECK(same_logs("b", "d"));
  CAF_CHECK(same_logs("b", "c"));
}

CAF_TEST(an entry counts for a copy only once its syncer has made it durable) {
  // a syncs through a slow syncer; b and c at once.
  auto held = std::make_shared<held_syncs>();
  auto syncer = sys.spawn(slow_syncer, held);
  crash("a");
  start("a", {}, actors::replica_sync{caf::actor_cast<api::syncer_actor>(syncer), [] { return std::uint64_t{1}; }});
  // With b alone reachable, a write needs a's own copy to count.
  links({{"a", "b"}});
  take("a");
  write("a", "k0", "m0");
  sched.run();
  CAF_CHECK_EQUAL(got->index.count("k0"), 0u);
  CAF_CHECK(!held->empty());
  CAF_CHECK(history("b").empty());  // b holds them, nothing is committed
  release(syncer, held);
  CAF_CHECK_EQUAL(got->index.count("k0"), 1u);
  CAF_CHECK_EQUAL(history("a"), (names_t{"m0"}));
  // As a follower: b answers an append only once it is synced.
  auto held_b = std::make_shared<held_syncs>();
  auto syncer_b = sys.spawn(slow_syncer, held_b);
  crash("b");
  start("b", {}, actors::replica_sync{caf::actor_cast<api::syncer_actor>(syncer_b), [] { return std::uint64_t{1}; }});
  links({{"a", "b"}});
  write("a", "k1", "m1");
  sched.run();
  release(syncer, held);  // a's own write is durable
  CAF_CHECK_EQUAL(got->index.count("k1"), 0u);
  CAF_CHECK(!held_b->empty());
  release(syncer_b, held_b);
  CAF_CHECK_EQUAL(got->index.count("k1"), 1u);
  anon_send_exit(syncer, caf::exit_reason::kill);
  anon_send_exit(syncer_b, caf::exit_reason::kill);
}

CAF_TEST(a change that cannot finish in time is answered and its learner forgotten) {
  take("a");
  write("a", "k0", "m0");
  sched.run();
  // e is never reachable: it cannot catch up.
  auto h = self->request(nodes["a"], caf::infinite, api::replace_atom::value, std::string{"c"}, std::string{"e"});
  sched.run();
  auto busy = self->request(nodes["a"], caf::infinite, api::replace_atom::value, std::string{"b"}, std::string{"f"});
  sched.run();
  bool conflict = false;
  busy.receive([](bool) {}, [&](const caf::error& e) { conflict = api::describe(e).code == api::errc::conflict; });
  CAF_CHECK(conflict);
  time_passes();
  bool timed_out = false;
  h.receive([](bool) {}, [&](const caf::error& e) { timed_out = api::describe(e).code == api::errc::unavailable; });
  CAF_CHECK(timed_out);
  auto& st = deref<caf::stateful_actor<actors::replica_state>>(nodes["a"]).state;
  CAF_CHECK(!st.changing);
  CAF_CHECK(st.leading->followers() == (names_t{"b", "c"}));
  CAF_CHECK(disk["a"]->copies() == (names_t{"a", "b", "c"}));
  write("a", "k1", "m1");
  sched.run();
  CAF_CHECK_EQUAL(got->index.count("k1"), 1u);
}

CAF_TEST_FIXTURE_SCOPE_END()

CAF_TEST(stored replication records decode only when whole) {
  auto e = ent(ep(7, "node-b"), 42, "payload");
  e.key = "cmid";
  auto bytes = actors::replica_log::encode(e);
  auto back = actors::replica_log::decode_entry(bytes);
  CAF_REQUIRE(back);
  CAF_CHECK(*back == e);
  CAF_CHECK(!actors::replica_log::decode_entry(bytes + "x"));
  CAF_CHECK(!actors::replica_log::decode_entry(bytes.substr(0, bytes.size() - 1)));
  CAF_CHECK(!actors::replica_log::decode_entry(""));
  actors::replica_log::state saved{ep(3, "a"), 9, {"a", "b", "c"}, {"a", "b", "d"}};
  auto state = actors::replica_log::decode_state(actors::replica_log::encode_state(saved));
  CAF_REQUIRE(state);
  CAF_CHECK(*state == saved);
  // A state saved before copy sets could change (three fields) reads with
  // its set as the current one.
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  auto promised = ep(3, "a");
  std::uint64_t committed = 9;
  std::vector<std::string> copies{"a", "b", "c"};
  CAF_REQUIRE(!sink(promised, committed, copies));
  auto old = actors::replica_log::decode_state({buf.data(), buf.size()});
  CAF_REQUIRE(old);
  CAF_CHECK(old->current == copies);
  CAF_CHECK(old->copies == copies);
  // A state without a copy set is corrupt: a copy always knows its set.
  CAF_CHECK(!actors::replica_log::decode_state(actors::replica_log::encode_state({ep(3, "a"), 9, {}, {}})));
}

CAF_TEST(room changes decode only when whole and apply again to the same state) {
  actors::room_change msg;
  msg.kind = actors::room_change::message;
  msg.members.emplace_back(api::user_id{"u_1"}, "");
  msg.seq = 1;
  msg.text = R"({"seq":1})";
  msg.client_msg_id = "c1";
  auto bytes = actors::encode(msg);
  auto back = actors::decode_room_change(bytes);
  CAF_REQUIRE(back);
  CAF_CHECK(*back == msg);
  CAF_CHECK(!actors::decode_room_change(bytes + "x"));
  CAF_CHECK(!actors::decode_room_change(bytes.substr(0, bytes.size() - 1)));
  auto no_user = msg;
  no_user.members.clear();
  CAF_CHECK(!actors::decode_room_change(actors::encode(no_user)));
  auto unknown = msg;
  unknown.kind = 9;
  CAF_CHECK(!actors::decode_room_change(actors::encode(unknown)));

  test::temp_dir dir;
  auto db = test::value(storage::store::open(dir.path()));
  api::room_id room{"r_apply"};
  actors::room_change create;
  create.kind = actors::room_change::create;
  create.room = api::room_info{room, "name", "", "public", "room", 1, api::user_id{"u_1"}};
  create.members.emplace_back(api::user_id{"u_1"}, "owner");
  actors::room_change join;
  join.kind = actors::room_change::member;
  join.members.emplace_back(api::user_id{"u_2"}, "member");
  actors::room_change read;
  read.kind = actors::room_change::read;
  read.members.emplace_back(api::user_id{"u_2"}, "");
  read.seq = 1;
  std::vector<actors::room_change> changes{create, join, msg, read};
  for (int pass = 0; pass < 2; ++pass)
    for (auto& c : changes)
      CAF_CHECK(!actors::apply(db->rooms(), db->log(), room, c));
  CAF_CHECK_EQUAL(test::value(db->log().last_seq(room)), 1u);
  CAF_CHECK_EQUAL(test::value(db->log().dedupe(api::user_id{"u_1"}, room, "c1")), 1u);
  CAF_CHECK_EQUAL(test::value(db->rooms().members(room)).size(), 2u);
  CAF_CHECK_EQUAL(test::value(db->log().last_read(api::user_id{"u_2"}, room)), 1u);
  actors::room_change leave;
  leave.kind = actors::room_change::leave;
  leave.members.emplace_back(api::user_id{"u_2"}, "");
  CAF_CHECK(!actors::apply(db->rooms(), db->log(), room, leave));
  CAF_CHECK_EQUAL(test::value(db->rooms().members(room)).size(), 1u);
}

CAF_TEST(a thread reply rewrites its root in the same entry and batch; entries before threads still read) {
  actors::room_change reply;
  reply.kind = actors::room_change::message;
  reply.members.emplace_back(api::user_id{"u_2"}, "");
  reply.seq = 2;
  reply.text = R"({"seq":2,"body":"reply","thread":1})";
  reply.client_msg_id = "c2";
  reply.rewrites.emplace_back(1, R"({"seq":1,"body":"root","thread_replies":[2],"thread_summary":{"replies":1}})");
  auto back = actors::decode_room_change(actors::encode(reply));
  CAF_REQUIRE(back);
  CAF_CHECK(*back == reply);
  auto zero = reply;
  zero.rewrites.front().first = 0;
  auto empty = reply;
  empty.rewrites.front().second.clear();
  auto on_read = reply;  // only messages and updates rewrite
  on_read.kind = actors::room_change::read;
  for (auto& broken : {zero, empty, on_read})
    CAF_CHECK(!actors::decode_room_change(actors::encode(broken)));
  // An entry written before threads (six fields) reads, without rewrites,
  // and is what a change without rewrites encodes to; one with a byte too
  // many or too few does not read.
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  actors::room_change plain = reply;
  plain.rewrites.clear();
  CAF_REQUIRE(!sink(plain.kind, plain.room, plain.members, plain.seq, plain.text, plain.client_msg_id));
  auto old = actors::decode_room_change({buf.data(), buf.size()});
  CAF_REQUIRE(old);
  CAF_CHECK(*old == plain);
  CAF_CHECK(actors::encode(plain) == std::string(buf.data(), buf.size()));
  auto whole = actors::encode(reply);
  CAF_CHECK(!actors::decode_room_change(whole.substr(0, whole.size() - 1)));
  CAF_CHECK(!actors::decode_room_change({buf.data(), buf.size() - 1}));
  buf.push_back(0);
  CAF_CHECK(!actors::decode_room_change({buf.data(), buf.size()}));
  // Applied twice: the reply and the root's new text, the dedupe record.
  test::temp_dir dir;
  auto db = test::value(storage::store::open(dir.path()));
  api::room_id room{"r_thread"};
  actors::room_change root;
  root.kind = actors::room_change::message;
  root.members.emplace_back(api::user_id{"u_1"}, "");
  root.seq = 1;
  root.text = R"({"seq":1,"body":"root"})";
  for (int pass = 0; pass < 2; ++pass) {
    CAF_CHECK(!actors::apply(db->rooms(), db->log(), room, root));
    CAF_CHECK(!actors::apply(db->rooms(), db->log(), room, reply));
    CAF_CHECK_EQUAL(test::value(db->log().message(room, 2)), reply.text);
    CAF_CHECK_EQUAL(test::value(db->log().message(room, 1)), reply.rewrites.front().second);
  }
  CAF_CHECK_EQUAL(test::value(db->log().dedupe(api::user_id{"u_2"}, room, "c2")), 2u);
}

CAF_TEST(an update replaces a message at its seq and applies again to the same state) {
  actors::room_change update;
  update.kind = actors::room_change::update;
  update.seq = 1;
  update.text = R"({"seq":1,"body":"edited","edited_at":5})";
  auto back = actors::decode_room_change(actors::encode(update));
  CAF_REQUIRE(back);
  CAF_CHECK(*back == update);
  auto no_seq = update;
  no_seq.seq = 0;
  auto no_text = update;
  no_text.text.clear();
  auto with_user = update;  // an update names nobody
  with_user.members.emplace_back(api::user_id{"u_1"}, "");
  for (auto& broken : {no_seq, no_text, with_user})
    CAF_CHECK(!actors::decode_room_change(actors::encode(broken)));
  test::temp_dir dir;
  auto db = test::value(storage::store::open(dir.path()));
  api::room_id room{"r_update"};
  actors::room_change msg;
  msg.kind = actors::room_change::message;
  msg.members.emplace_back(api::user_id{"u_1"}, "");
  msg.seq = 1;
  msg.text = R"({"seq":1,"body":"first"})";
  msg.client_msg_id = "c1";
  // A copy that restarts applies a prefix of the log again: the message,
  // then its update, give the updated text every time.
  for (int pass = 0; pass < 2; ++pass) {
    CAF_CHECK(!actors::apply(db->rooms(), db->log(), room, msg));
    CAF_CHECK_EQUAL(test::value(db->log().message(room, 1)), msg.text);
    CAF_CHECK(!actors::apply(db->rooms(), db->log(), room, update));
    CAF_CHECK_EQUAL(test::value(db->log().message(room, 1)), update.text);
  }
  CAF_CHECK_EQUAL(test::value(db->log().last_seq(room)), 1u);
  CAF_CHECK_EQUAL(test::value(db->log().dedupe(api::user_id{"u_1"}, room, "c1")), 1u);
}
