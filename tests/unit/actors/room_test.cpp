#define CAF_SUITE room
#include "tests/unit/node_fixture.hpp"

#include "actors/room.hpp"
#include "actors/syncer.hpp"
#include "api/metrics.hpp"

using namespace confab;
using test::node_fixture;

namespace {

struct fixture : node_fixture {
  api::user_info alice = make_user("alice");
  api::user_info bob = make_user("bob");
  std::shared_ptr<test::recording_sink> alice_sink = std::make_shared<test::recording_sink>();
  std::shared_ptr<test::recording_sink> bob_sink = std::make_shared<test::recording_sink>();

  api::caller as(const api::user_info& u) { return {u.id, u.username}; }

  // Registers a sink at the hub as a ready session of `u` in `rooms`.
  void connect(const api::user_info& u, const std::shared_ptr<test::recording_sink>& sink,
               std::vector<api::room_id> in_rooms) {
    auto session = hub_session(u, sink);
    self->send(session, api::ready_atom::value, in_rooms, std::vector<api::seq_t>(in_rooms.size(), 0));
    sched.run();
  }

  caf::expected<api::send_ack> send(const api::user_info& u, const api::room_id& room, std::string body,
                                    std::string cmid = "", std::uint64_t reply_to = 0) {
    return ask<api::send_ack>(
        rooms, api::send_atom::value,
        api::send_request{as(u), room, std::move(body), std::move(cmid), reply_to, 0, "", "", ""});
  }

  // Sends without waiting: the seq of the ack (0 for an error) lands in
  // `acks` whenever it comes.
  void send_async(const api::user_info& u, const api::room_id& room, std::string body, std::string cmid,
                  std::shared_ptr<std::vector<api::seq_t>> acks) {
    api::send_request req{as(u), room, std::move(body), std::move(cmid), 0, 0, "", "", ""};
    extra.push_back(sys.spawn([req, acks, dest = rooms](caf::event_based_actor* s) {
      s->request(dest, caf::infinite, api::send_atom::value, req)
          .then([=](api::send_ack& a) { acks->push_back(a.seq); }, [=](caf::error&) { acks->push_back(0); });
    }));
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(room_tests, fixture)

CAF_TEST(sends get gapless seqs and one event per member session) {
  auto room = make_room(alice, "public");
  connect(alice, alice_sink, {room.id});
  for (std::uint64_t i = 1; i <= 3; ++i) {
    auto ack = send(alice, room.id, "hi " + std::to_string(i));
    CAF_REQUIRE(ack);
    CAF_CHECK_EQUAL(ack->seq, i);
  }
  auto events = alice_sink->with_op("message");
  CAF_REQUIRE_EQUAL(events.size(), 3u);
  CAF_CHECK_EQUAL(events[2]["data"]["seq"], 3);
  CAF_CHECK_EQUAL(events[2]["data"]["from"], "alice");
  CAF_CHECK_EQUAL(events[2]["data"]["body"], "hi 3");
  CAF_CHECK_EQUAL(test::value(node.db().log().last_seq(room.id)), 3u);
}

CAF_TEST(non members and unknown rooms are refused and nothing is stored) {
  auto room = make_room(alice, "public");
  auto r = send(bob, room.id, "intruder");
  CAF_REQUIRE(!r);
  CAF_CHECK(code(r.error()) == api::errc::not_member);
  auto none = send(alice, api::room_id{"r_missing"}, "x");
  CAF_REQUIRE(!none);
  CAF_CHECK(code(none.error()) == api::errc::not_found);
  CAF_CHECK_EQUAL(test::value(node.db().log().last_seq(room.id)), 0u);
  auto bad_reply = send(alice, room.id, "x", "", 5);
  CAF_REQUIRE(!bad_reply);
  CAF_CHECK(code(bad_reply.error()) == api::errc::invalid_request);
}

CAF_TEST(a retried client_msg_id returns the first seq and emits nothing) {
  auto room = make_room(alice, "public");
  connect(alice, alice_sink, {room.id});
  auto first = send(alice, room.id, "once", "c-1");
  CAF_REQUIRE(first);
  auto again = send(alice, room.id, "once", "c-1");
  CAF_REQUIRE(again);
  CAF_CHECK_EQUAL(again->seq, first->seq);
  CAF_CHECK_EQUAL(again->msg_id, first->msg_id);
  CAF_CHECK_EQUAL(alice_sink->with_op("message").size(), 1u);
  // The same id from another user is another message.
  CAF_REQUIRE(ask<api::room_info>(rooms, api::join_atom::value, room.id, as(bob)));
  auto other = send(bob, room.id, "once", "c-1");
  CAF_REQUIRE(other);
  CAF_CHECK_EQUAL(other->seq, first->seq + 1);
}

CAF_TEST(with fsync durability neither the ack nor the event comes before the group commit) {
  auto room = make_room(alice, "public");
  connect(alice, alice_sink, {room.id});
  // A syncer that answers only when the test says so: (tick, i, covered)
  // answers the i-th request (a promise is delivered from its actor).
  auto held = std::make_shared<std::vector<caf::typed_response_promise<std::uint64_t>>>();
  // (A test double: it also takes the test's tick, so it is not typed.)
  auto slow = sys.spawn([held](caf::event_based_actor* s) -> caf::behavior {
    return {
        [=](api::fsync_atom, std::uint64_t) -> caf::result<std::uint64_t> {
          held->push_back(s->make_response_promise<std::uint64_t>());
          return held->back();
        },
        [=](api::tick_atom, std::size_t i, std::uint64_t covered) { (*held)[i].deliver(covered); },
    };
  });
  ctx->syncer = caf::actor_cast<api::syncer_actor>(slow);
  extra.push_back(slow);
  auto acks = std::make_shared<std::vector<api::seq_t>>();
  send_async(alice, room.id, "first", "c-1", acks);
  sched.run();
  CAF_REQUIRE_EQUAL(held->size(), 1u);
  CAF_CHECK(acks->empty());
  CAF_CHECK(alice_sink->with_op("message").empty());
  // A retry of the waiting message waits too; a second message queues behind.
  send_async(alice, room.id, "first", "c-1", acks);
  send_async(alice, room.id, "second", "c-2", acks);
  sched.run();
  CAF_CHECK(acks->empty());
  CAF_CHECK(alice_sink->with_op("message").empty());
  // One answer that covers every write so far completes all three, in order.
  auto covered = node.db().written();
  self->send(slow, api::tick_atom::value, std::size_t{0}, covered);
  sched.run();
  CAF_CHECK_EQUAL(*acks, (std::vector<api::seq_t>{1, 1, 2}));
  auto events = alice_sink->with_op("message");
  CAF_REQUIRE_EQUAL(events.size(), 2u);
  CAF_CHECK_EQUAL(events[0]["data"]["body"], "first");
  CAF_CHECK_EQUAL(events[1]["data"]["body"], "second");
  for (std::size_t i = 1; i < held->size(); ++i)
    self->send(slow, api::tick_atom::value, i, covered);
  sched.run();
  CAF_CHECK_EQUAL(acks->size(), 3u);  // nothing answered twice
}

CAF_TEST(the syncer fsyncs once for every append that waited meanwhile) {
  auto room = make_room(alice, "public");
  ctx->syncer = sys.spawn(actors::syncer_actor, node.db().shared_database());
  extra.push_back(api::untyped(ctx->syncer));
  auto acks = std::make_shared<std::vector<api::seq_t>>();
  auto before = api::node_metrics().db_fsync.count();
  for (int i = 0; i < 5; ++i)
    send_async(alice, room.id, "m" + std::to_string(i), "g-" + std::to_string(i), acks);
  sched.run();
  CAF_CHECK_EQUAL(*acks, (std::vector<api::seq_t>{1, 2, 3, 4, 5}));
  auto fsyncs = api::node_metrics().db_fsync.count() - before;
  CAF_CHECK_GREATER_OR_EQUAL(fsyncs, 1u);
  CAF_CHECK_LESS(fsyncs, 5u);
  // A ticket already covered is answered without another fsync.
  auto again = ask<std::uint64_t>(api::untyped(ctx->syncer), api::fsync_atom::value, std::uint64_t{1});
  CAF_REQUIRE(again);
  CAF_CHECK_GREATER_OR_EQUAL(*again, 5u);
  CAF_CHECK_EQUAL(api::node_metrics().db_fsync.count() - before, fsyncs);
}

CAF_TEST(private rooms need an invite and membership changes emit member events) {
  auto room = make_room(alice, "private");
  connect(alice, alice_sink, {room.id});
  connect(bob, bob_sink, {});
  auto refused = ask<api::room_info>(rooms, api::join_atom::value, room.id, as(bob));
  CAF_REQUIRE(!refused);
  CAF_CHECK(code(refused.error()) == api::errc::forbidden);
  auto not_inviter = ask_void(rooms, api::invite_atom::value, room.id, as(bob), alice);
  CAF_CHECK(code(not_inviter) == api::errc::not_member);
  CAF_REQUIRE(!ask_void(rooms, api::invite_atom::value, room.id, as(alice), bob));
  auto invited = bob_sink->with_op("member");
  CAF_REQUIRE_EQUAL(invited.size(), 1u);
  CAF_CHECK_EQUAL(invited[0]["data"]["action"], "invited");
  CAF_REQUIRE(ask<api::room_info>(rooms, api::join_atom::value, room.id, as(bob)));
  auto joined = alice_sink->with_op("member");
  CAF_REQUIRE_EQUAL(joined.size(), 2u);
  CAF_CHECK_EQUAL(joined[1]["data"]["action"], "joined");
  CAF_CHECK_EQUAL(joined[1]["data"]["user"], "bob");
  // Bob's session now gets the room's messages.
  CAF_REQUIRE(send(alice, room.id, "welcome"));
  CAF_CHECK_EQUAL(bob_sink->with_op("message").size(), 1u);
  CAF_REQUIRE(!ask_void(rooms, api::leave_atom::value, room.id, as(bob)));
  CAF_REQUIRE(send(alice, room.id, "gone?"));
  CAF_CHECK_EQUAL(bob_sink->with_op("message").size(), 1u);
  auto r = send(bob, room.id, "back?");
  CAF_REQUIRE(!r);
  CAF_CHECK(code(r.error()) == api::errc::not_member);
}

CAF_TEST(direct rooms are one per pair and cannot be left) {
  auto ab = ask<api::room_info>(rooms, api::dm_atom::value, as(alice), bob, false);
  auto ba = ask<api::room_info>(rooms, api::dm_atom::value, as(bob), alice, false);
  CAF_REQUIRE(ab && ba);
  CAF_CHECK(ab->id == ba->id);
  CAF_CHECK_EQUAL(ab->kind, "dm");
  CAF_CHECK(send(bob, ab->id, "hey"));
  CAF_CHECK(code(ask_void(rooms, api::leave_atom::value, ab->id, as(alice))) == api::errc::forbidden);
  auto carol = make_user("carol");
  auto joined = ask<api::room_info>(rooms, api::join_atom::value, ab->id, as(carol));
  CAF_REQUIRE(!joined);
  CAF_CHECK(code(joined.error()) == api::errc::forbidden);
}

CAF_TEST(an idle room is passivated and comes back with its state) {
  auto room = make_room(alice, "public");
  CAF_REQUIRE(send(alice, room.id, "one"));
  auto& manager = deref<actors::room_manager_self>(rooms);
  CAF_CHECK_EQUAL(manager.state.live.size(), 1u);
  // Ticks every idle period: the first sees the send, the second sees none.
  advance_time(std::chrono::milliseconds(ctx->lim.room_idle_ms));
  sched.run();
  CAF_CHECK_EQUAL(manager.state.live.size(), 1u);
  advance_time(std::chrono::milliseconds(ctx->lim.room_idle_ms));
  sched.run();
  CAF_CHECK_EQUAL(manager.state.live.size(), 0u);
  auto next = send(alice, room.id, "two");
  CAF_REQUIRE(next);
  CAF_CHECK_EQUAL(next->seq, 2u);
  CAF_CHECK_EQUAL(manager.state.live.size(), 1u);
}

// A room actor whose room is not in the store (spawned as the room moved
// away, say) holds nothing: it reports idle at its first tick with nothing
// in flight, however often it is asked. Before, a client retrying faster
// than its idle period kept it alive, answering not_found forever.
CAF_TEST(a room that does not exist goes at its first tick however often it is asked) {
  auto reports = std::make_shared<std::vector<std::uint64_t>>();
  actors::room_idle_reports manager =
      sys.spawn([reports](actors::room_idle_reports::pointer) -> actors::room_idle_reports::behavior_type {
        return {[reports](api::idle_atom, const api::room_id&, std::uint64_t handled) { reports->push_back(handled); }};
      });
  extra.push_back(caf::actor_cast<caf::actor>(manager));
  api::room_id gone{"r_00000000000000aa"};
  auto room = sys.spawn(actors::room_actor, gone, cctx, actors::room_stores::of(*node.store), manager, caf::actor{});
  extra.push_back(caf::actor_cast<caf::actor>(room));
  sched.run();
  // Asked every 400 ms, under the 1 s idle period of a room that does not exist.
  for (int i = 0; i < 3; ++i) {
    auto r = ask<std::string>(caf::actor_cast<caf::actor>(room), api::react_atom::value, gone, as(alice),
                              std::uint64_t{1}, std::string("x"), true);
    CAF_REQUIRE(!r);
    CAF_CHECK(code(r.error()) == api::errc::not_found);
    advance_time(std::chrono::milliseconds(400));
    sched.run();
  }
  CAF_CHECK(!reports->empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
