#define CAF_SUITE presence
#include "actors/presence.hpp"
#include "actors/pusher.hpp"
#include "tests/unit/node_fixture.hpp"

using namespace confab;
using test::node_fixture;

namespace {

caf::actor_addr addr_of(caf::actor_system& sys) {
  // Any live actor's address will do as a session's identity.
  return caf::actor_cast<caf::actor_addr>(sys.spawn([] { return caf::behavior{[](int) {}}; }));
}

}  // namespace

CAF_TEST(state machine online away offline and back) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  actors::presence_state st;
  auto s1 = addr_of(sys);
  auto s2 = addr_of(sys);
  CAF_CHECK_EQUAL(st.status(), "offline");
  CAF_CHECK(st.session_up(s1, caf::actor{}));
  CAF_CHECK(!st.session_up(s2, caf::actor{}));  // second session: no change
  CAF_CHECK_EQUAL(st.status(), "online");
  CAF_CHECK(st.choose("away"));
  CAF_CHECK(!st.choose("away"));
  CAF_CHECK_EQUAL(st.status(), "away");
  CAF_CHECK(!st.session_down(s1, 100));  // one session left
  CAF_CHECK_EQUAL(st.status(), "away");
  CAF_CHECK(st.session_down(s2, 200));
  CAF_CHECK_EQUAL(st.status(), "offline");
  CAF_CHECK_EQUAL(st.last_seen, 200);
  CAF_CHECK_EQUAL(st.json(), R"({"last_seen":200,"status":"offline"})");
  CAF_CHECK(!st.choose("dnd"));  // nobody sees a status without a session
  CAF_CHECK(st.session_up(s1, caf::actor{}));
  CAF_CHECK_EQUAL(st.status(), "online");  // away/dnd end with the last session
  CAF_CHECK(!st.session_down(addr_of(sys), 300));
  CAF_CHECK(st.idle() == false);
  for (auto& a : {s1, s2})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

namespace {

// Answers posts from a script: true = delivered, false = failed.
struct scripted_transport : api::push_transport {
  std::vector<bool> script;
  std::vector<std::string> bodies;
  void post(std::string body, std::function<void(bool)> done) override {
    bodies.push_back(std::move(body));
    done(bodies.size() <= script.size() && script[bodies.size() - 1]);
  }
};

config::limits push_limits() {
  config::limits lim;
  lim.push_retries = 2;
  lim.push_backoff_ms = 100;
  lim.push_queue = 2;
  return lim;
}

struct fixture : node_fixture {
  fixture() : node_fixture(push_limits()) {}

  std::shared_ptr<scripted_transport> transport = std::make_shared<scripted_transport>();
  api::pusher_actor pusher = spawn_pusher();

  api::pusher_actor spawn_pusher() {
    auto p = sys.spawn(actors::pusher_actor, cctx, std::shared_ptr<api::push_transport>(transport));
    extra.push_back(api::untyped(p));
    return p;
  }
  actors::pusher_state& pstate() { return deref<actors::pusher_self>(api::untyped(pusher)).state; }
  void push(const std::string& body) {
    self->send(pusher, api::push_atom::value, body);
    sched.run();
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(presence_tests, fixture)

CAF_TEST(a failing webhook is retried with backoff then dropped) {
  transport->script = {false, false, true};
  push("one");
  CAF_CHECK_EQUAL(transport->bodies.size(), 1u);
  advance_time(std::chrono::milliseconds(100));  // first backoff
  sched.run();
  CAF_CHECK_EQUAL(transport->bodies.size(), 2u);
  advance_time(std::chrono::milliseconds(100));  // second backoff is 200 ms
  sched.run();
  CAF_CHECK_EQUAL(transport->bodies.size(), 2u);
  advance_time(std::chrono::milliseconds(100));
  sched.run();
  CAF_CHECK_EQUAL(transport->bodies.size(), 3u);
  CAF_CHECK_EQUAL(pstate().delivered, 1u);
  transport->script.clear();  // from now on every post fails
  push("two");
  for (int i = 0; i < 5; ++i) {
    advance_time(std::chrono::milliseconds(400));
    sched.run();
  }
  CAF_CHECK_EQUAL(transport->bodies.size(), 6u);  // 1 + 2 retries for "two"
  CAF_CHECK_EQUAL(pstate().dropped, 1u);
  CAF_CHECK(pstate().queue.empty());
}

CAF_TEST(a full queue drops instead of growing) {
  push("a");  // fails, waits for its retry: the queue holds it
  push("b");
  push("c");  // over push_queue = 2
  CAF_CHECK_EQUAL(pstate().queue.size(), 2u);
  CAF_CHECK_EQUAL(pstate().dropped, 1u);
}

CAF_TEST(notifications go to sessions when online and to the pusher when offline) {
  auto alice = make_user("alice");
  auto sink = std::make_shared<test::recording_sink>();
  // Offline: the placement of this fixture has no pusher; nothing is sent.
  self->send(presence, api::notify_atom::value, alice.id, std::string(R"({"reason":"dm"})"));
  sched.run();
  CAF_CHECK(sink->frames.empty());
  auto session = hub_session(alice, sink);
  self->send(session, api::ready_atom::value, std::vector<api::room_id>{}, std::vector<api::seq_t>{});
  sched.run();
  // The session actor tells presence it is up (as a session does after auth).
  auto up = sys.spawn([=, this](caf::event_based_actor* a) {
    a->send(presence, api::session_up_atom::value, alice.id, alice.username, hub);
    return caf::behavior{[](int) {}};
  });
  extra.push_back(up);
  sched.run();
  self->send(presence, api::notify_atom::value, alice.id, std::string(R"({"reason":"dm"})"));
  sched.run();
  CAF_CHECK_EQUAL(sink->with_op("notification").size(), 1u);
  // Watchers see the user go offline when the last session ends, with
  // last_seen; the event reaches them through their hub.
  auto bob = make_user("bob");
  auto watcher_sink = std::make_shared<test::recording_sink>();
  auto watcher = sys.spawn([=, this](caf::event_based_actor* a) {
    a->send(hub, api::subscribe_atom::value, bob.id, api::sink_ptr(watcher_sink));
    a->send(hub, api::ready_atom::value, std::vector<api::room_id>{}, std::vector<api::seq_t>{});
    a->request(presence, caf::infinite, api::watch_atom::value, alice.id, hub).then([](const std::string&) {});
    return caf::behavior{[](int) {}};
  });
  extra.push_back(watcher);
  sched.run();
  caf::anon_send_exit(up, caf::exit_reason::user_shutdown);
  sched.run();
  auto events = watcher_sink->with_op("presence");
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0]["data"]["status"], "offline");
  CAF_CHECK_EQUAL(events[0]["data"]["user"], "alice");
  CAF_CHECK(events[0]["data"]["last_seen"].get<std::int64_t>() > 0);
  CAF_CHECK(test::value(node.db().users().last_seen(alice.id)) > 0);
}

CAF_TEST_FIXTURE_SCOPE_END()
