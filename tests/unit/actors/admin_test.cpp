#define CAF_SUITE admin
#include "tests/unit/node_fixture.hpp"

#include "api/metrics.hpp"
#include "api/probe.hpp"

using namespace confab;

namespace {

// An actor that only counts: it is listed as a room called `id`.
caf::behavior counting_actor(api::probed_actor* self, actors::context_ptr ctx, std::string id) {
  self->probe_as(ctx->actors, "room", std::move(id));
  return {[](int) {}};
}

struct fixture : test::node_fixture {
  api::actor_page list(api::actor_query q) { return api::list_actors(*ctx->actors, "n", q); }
  std::shared_ptr<test::recording_sink> sink = std::make_shared<test::recording_sink>();
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(admin_tests, fixture)

CAF_TEST(a api::probed actor counts what waits and what it handled and leaves the index when it ends) {
  auto before = ctx->actors->count("room");
  auto a = sys.spawn(counting_actor, cctx, std::string("r_counting"));
  sched.run();
  CAF_REQUIRE_EQUAL(ctx->actors->count("room"), before + 1);
  auto probe = ctx->actors->find("room", "r_counting");
  CAF_REQUIRE(probe != nullptr);
  for (int i = 0; i < 3; ++i)
    self->send(a, i);
  // Sent but not yet handled: three wait.
  CAF_CHECK_EQUAL(probe->mailbox(), 3u);
  auto handled = probe->processed.load();
  sched.run();
  CAF_CHECK_EQUAL(probe->mailbox(), 0u);
  CAF_CHECK_EQUAL(probe->processed.load(), handled + 3);
  CAF_CHECK_GREATER_OR_EQUAL(probe->last_active.load(), probe->since);
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  sched.run();
  CAF_CHECK_EQUAL(ctx->actors->count("room"), before);
  CAF_CHECK(ctx->actors->find("room", "r_counting") == nullptr);
}

CAF_TEST(the listing filters by kind and text sorts by mailbox and counts every match) {
  auto busy = sys.spawn(counting_actor, cctx, std::string("r_busy"));
  auto idle = sys.spawn(counting_actor, cctx, std::string("r_idle"));
  sched.run();
  for (int i = 0; i < 5; ++i)
    self->send(busy, i);
  self->send(idle, 1);
  api::actor_query q;
  q.kind = "room";
  auto page = list(q);
  CAF_REQUIRE_EQUAL(page.total, 2u);
  CAF_CHECK_EQUAL(page.actors[0].id, "r_busy");
  CAF_CHECK_EQUAL(page.actors[0].mailbox, 5u);
  CAF_CHECK_EQUAL(page.actors[1].id, "r_idle");
  CAF_CHECK_EQUAL(page.actors[0].node, "n");
  // The node's own actors are listed too, under their kinds.
  q.kind.clear();
  auto all = list(q);
  CAF_CHECK_GREATER(all.total, 2u);
  std::set<std::string> kinds;
  for (auto& a : all.actors)
    kinds.insert(a.kind);
  for (auto* k : {"hub", "room_manager", "presence_manager", "account", "reader"})
    CAF_CHECK(kinds.count(k) == 1);
  // A text matches id or detail; limit cuts the list but not the total.
  q.text = "idle";
  CAF_CHECK_EQUAL(list(q).total, 1u);
  q.text.clear();
  q.limit = 1;
  auto one = list(q);
  CAF_CHECK_EQUAL(one.actors.size(), 1u);
  CAF_CHECK_EQUAL(one.total, all.total);
  CAF_CHECK_EQUAL(one.actors[0].id, "r_busy");
  q.sort = "id";
  q.limit = 100;
  auto by_id = list(q);
  for (std::size_t i = 1; i < by_id.actors.size(); ++i)
    CAF_CHECK_LESS_OR_EQUAL(by_id.actors[i - 1].id, by_id.actors[i].id);
  sched.run();
  for (auto& a : {busy, idle})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  sched.run();
}

CAF_TEST(a room 's detail shows members and seq and a session' s its address) {
  auto u = ask<api::user_info>(accounts, api::register_atom::value, std::string("alice"), std::string("password-1"),
                               std::string());
  CAF_REQUIRE(u);
  auto room = ask<api::room_info>(rooms, api::create_atom::value, api::caller{u->id, u->username},
                                  std::string("general"), std::string(), std::string("public"), false);
  CAF_REQUIRE(room);
  for (int i = 0; i < 3; ++i) {
    api::send_request r;
    r.from = {u->id, u->username};
    r.room = room->id;
    r.body = "hi";
    r.client_msg_id = "c" + std::to_string(i);
    CAF_REQUIRE(ask<api::send_ack>(rooms, api::send_atom::value, r));
  }
  auto probe = ctx->actors->find("room", room->id.value);
  CAF_REQUIRE(probe != nullptr);
  CAF_CHECK_EQUAL(api::detail(*probe), "members=1 seq=3 name=general");
  auto s = sys.spawn(actors::session_actor, cctx, node.db().users(), api::sink_ptr(sink), std::string("10.0.0.7:5555"));
  extra.push_back(caf::actor_cast<caf::actor>(s));
  sched.run();
  api::actor_query q;
  q.kind = "session";
  auto page = list(q);
  CAF_REQUIRE_EQUAL(page.actors.size(), 1u);
  CAF_CHECK_EQUAL(page.actors[0].detail, "user=- remote=10.0.0.7:5555 queue=0B");
  // Session ids name this node (placement's tag), so a kick finds it.
  CAF_CHECK(ctx->place->tagged_home(page.actors[0].id, "s_").has_value());
}

CAF_TEST(a kick closes the session with 4003 and an unknown session is not found) {
  auto s = sys.spawn(actors::session_actor, cctx, node.db().users(), api::sink_ptr(sink), std::string("10.0.0.7:5555"));
  extra.push_back(caf::actor_cast<caf::actor>(s));
  sched.run();
  api::actor_query q;
  q.kind = "session";
  auto id = list(q).actors.at(0).id;
  CAF_CHECK_EQUAL(test::value(ask<bool>(readers, api::kick_atom::value, id)), true);
  sched.run();
  CAF_REQUIRE_EQUAL(sink->closes.size(), 1u);
  CAF_CHECK_EQUAL(sink->closes[0], 4003);
  CAF_CHECK_EQUAL(ctx->actors->count("session"), 0u);
  CAF_CHECK_EQUAL(test::value(ask<bool>(readers, api::kick_atom::value, id)), false);
  CAF_CHECK_EQUAL(test::value(ask<bool>(readers, api::kick_atom::value, std::string("s_nope"))), false);
}

CAF_TEST(histograms are cumulative and metrics use the protocol error codes as labels) {
  api::histogram h{{0.001, 0.01}};
  h.observe(std::chrono::microseconds(500));
  h.observe(std::chrono::milliseconds(5));
  h.observe(std::chrono::milliseconds(50));
  std::string out;
  h.write(out, "x");
  CAF_CHECK_EQUAL(out,
                  "x_bucket{le=\"0.001\"} 1\nx_bucket{le=\"0.01\"} 2\nx_bucket{le=\"+Inf\"} 3\nx_sum 0.0555\n"
                  "x_count 3\n");
  auto& m = api::node_metrics();
  auto before = m.errors[static_cast<std::size_t>(api::errc::unknown_op)].load();
  m.error(api::errc::unknown_op);
  std::string text;
  m.write(text);
  CAF_CHECK(text.find("confab_errors_total{code=\"unknown_op\"} " + std::to_string(before + 1) + "\n") !=
            std::string::npos);
  CAF_CHECK(text.find("# TYPE confab_send_ack_seconds histogram\n") != std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE_END()
