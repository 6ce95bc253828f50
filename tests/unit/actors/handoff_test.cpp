#define CAF_SUITE handoff
#include "tests/unit/node_fixture.hpp"

#include <algorithm>
#include <set>

#include "cluster/placement.hpp"

using namespace confab;

namespace {

// -- two nodes in one actor system -------------------------------------------

using node = test::test_node;

using manager_actor = actors::room_manager_self;

struct two_nodes : test::coordinator_fixture {
  node a;
  node b;
  std::vector<caf::actor> extra;  // sessions, stopped at teardown

  two_nodes() {
    a.start(sys, "a");
    b.start(sys, "b");
    sched.run();
  }

  ~two_nodes() override {
    for (auto& x : extra)
      caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
    a.stop();
    b.stop();
    sched.run();
  }

  // Both placements switch to the view {a, b}, as both node actors would.
  void join_views() {
    a.place().set_members({a.card, b.card}, {});
    b.place().set_members({b.card, a.card}, {});
  }

  static bool b_owns(const api::room_id& id) { return cluster::placement::room_owner_among(id, {"a", "b"}) == "b"; }

  static api::caller as(const api::user_info& u) { return {u.id, u.username}; }

  api::user_info make_user(const std::string& name) {
    auto u = ask<api::user_info>(a.accounts, api::register_atom::value, name, std::string("password-" + name),
                                 std::string());
    CAF_REQUIRE(u);
    return *u;
  }

  // Users registered under a's one-node view reach b as the node actors'
  // account sync would bring them.
  void copy_users_to_b(const std::vector<api::user_info>& users) {
    for (auto& u : users)
      CAF_REQUIRE(!b.db().users().put_user(test::value(a.db().users().user(u.id)), true));
  }

  // A room made by a (alone in its view) whose id b owns in the view {a, b};
  // rooms a keeps are appended to `kept`.
  api::room_info room_for_b(const api::user_info& owner, std::vector<api::room_id>& kept) {
    for (int i = 0; i < 64; ++i) {
      auto r = ask<api::room_info>(a.rooms, api::create_atom::value, as(owner), "room " + std::to_string(i),
                                   std::string("topic"), std::string("public"), false);
      CAF_REQUIRE(r);
      if (b_owns(r->id))
        return *r;
      kept.push_back(r->id);
    }
    CAF_FAIL("no room id owned by b in 64 tries");
  }

  static api::send_request request(const api::user_info& u, const api::room_id& room, std::string body,
                                   std::string cmid) {
    api::send_request r;
    r.from = as(u);
    r.room = room;
    r.body = std::move(body);
    r.client_msg_id = std::move(cmid);
    return r;
  }

  caf::expected<api::send_ack> send(const caf::actor& via, const api::user_info& u, const api::room_id& room,
                                    std::string body, std::string cmid = "") {
    return ask<api::send_ack>(via, api::send_atom::value, request(u, room, std::move(body), std::move(cmid)));
  }

  // A send put in the manager's mailbox without delivering anything.
  auto send_later(const caf::actor& via, const api::user_info& u, const api::room_id& room, std::string body,
                  std::string cmid) {
    return self->request(via, caf::infinite, api::send_atom::value, request(u, room, std::move(body), std::move(cmid)));
  }

  template <class Handle>
  caf::expected<api::send_ack> answer(Handle& h) {
    caf::expected<api::send_ack> out{caf::sec::request_timeout};
    h.receive([&](api::send_ack& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  caf::expected<api::history_page> history(const caf::actor& via, const api::user_info& u, const api::room_id& room,
                                           std::uint32_t limit = 1000) {
    return ask<api::history_page>(via, api::history_atom::value,
                                  api::history_request{u.id, room, false, 0, true, 0, limit});
  }

  static std::vector<api::seq_t> seqs(const api::history_page& page) {
    std::vector<api::seq_t> out;
    for (auto& m : page.messages)
      out.push_back(nlohmann::json::parse(m).at("seq").get<api::seq_t>());
    return out;
  }

  static std::vector<api::seq_t> one_to(api::seq_t n) {
    std::vector<api::seq_t> out;
    for (api::seq_t i = 1; i <= n; ++i)
      out.push_back(i);
    return out;
  }

  manager_actor& manager(node& n) { return deref<manager_actor>(n.rooms); }

  // A session of `u` at node n's hub, ready in `in_rooms`.
  void connect(node& n, const api::user_info& u, const std::shared_ptr<test::recording_sink>& sink,
               std::vector<api::room_id> in_rooms) {
    auto s = test::spawn_hub_session(sys, n.hub, u.id, sink);
    extra.push_back(s);
    sched.run();
    self->send(s, api::ready_atom::value, in_rooms, std::vector<api::seq_t>(in_rooms.size(), 0));
    sched.run();
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(handoff_tests, two_nodes)

CAF_TEST(a room moves to its new owner without losing or reordering a send) {
  auto alice = make_user("alice");
  auto bob = make_user("bob");
  auto alice_sink = std::make_shared<test::recording_sink>();
  std::vector<api::room_id> kept;
  auto room = room_for_b(alice, kept);
  // Alice is online at a before anything happens in the room, so a's hub
  // stays interested in it.
  connect(a, alice, alice_sink, {room.id});
  CAF_REQUIRE(ask<api::room_info>(a.rooms, api::join_atom::value, room.id, as(bob)));
  std::vector<api::send_ack> acks;
  for (int i = 1; i <= 5; ++i) {
    auto ack = send(a.rooms, i % 2 ? alice : bob, room.id, "before " + std::to_string(i), "c-" + std::to_string(i));
    CAF_REQUIRE(ack);
    CAF_CHECK_EQUAL(ack->seq, static_cast<api::seq_t>(i));
    acks.push_back(*ack);
  }
  {
    auto h = self->request(a.rooms, caf::infinite, api::read_atom::value, room.id, as(bob), api::seq_t{4});
    sched.run();
    h.receive([](api::seq_t, api::seq_t) {}, [](caf::error& e) { CAF_FAIL("read failed: " << e); });
  }
  CAF_REQUIRE(manager(a).state.live.find(room.id) != nullptr);
  copy_users_to_b({alice, bob});

  // The view {a, b}: b owns the room; a still holds it.
  join_views();
  CAF_REQUIRE_EQUAL(a.place().room_owner(room.id), "b");
  CAF_REQUIRE_EQUAL(b.place().room_owner(room.id), "b");
  self->send(b.rooms, api::view_atom::value);  // b holds nothing to move
  sched.run();
  self->send(a.rooms, api::view_atom::value);
  CAF_REQUIRE(sched.try_run_once());
  // a fenced the room durably and took its room actor out of service.
  CAF_CHECK_EQUAL(test::value(a.db().handoff().moving_to(room.id)), "b");
  CAF_REQUIRE_EQUAL(manager(a).state.moving.count(room.id), 1u);
  CAF_CHECK(manager(a).state.live.find(room.id) == nullptr);

  // A send lands at a while the handoff is in flight.
  auto during = send_later(a.rooms, alice, room.id, "during", "c-during");
  bool waited = false;
  for (int i = 0; i < 10 && !waited && sched.try_run_once(); ++i) {
    auto& st = manager(a).state;
    auto it = st.moving.find(room.id);
    waited = it != st.moving.end() && it->second.waiting.size() == 1;
  }
  CAF_CHECK(waited);
  sched.run();
  auto during_ack = answer(during);
  CAF_REQUIRE(during_ack);
  CAF_CHECK_EQUAL(during_ack->seq, 6u);
  CAF_CHECK(manager(a).state.moving.empty());

  // b holds the room: every message and seq, members, dedupe records, markers.
  CAF_CHECK(b.db().rooms().room(room.id));
  CAF_CHECK_EQUAL(test::value(b.db().log().last_seq(room.id)), 6u);
  auto on_b = test::value(b.db().log().history(room.id, std::nullopt, api::seq_t{0}, 100));
  CAF_CHECK(seqs(on_b) == one_to(6));
  for (std::size_t i = 0; i < acks.size(); ++i)
    CAF_CHECK_EQUAL(on_b.messages[i], acks[i].message_json);
  auto members_b = test::value(b.db().rooms().members(room.id));
  CAF_CHECK_EQUAL(members_b.size(), 2u);
  CAF_CHECK_EQUAL(members_b[alice.id], "owner");
  CAF_CHECK_EQUAL(members_b[bob.id], "member");
  CAF_CHECK_EQUAL(test::value(b.db().log().dedupe(alice.id, room.id, "c-3")), 3u);
  CAF_CHECK_EQUAL(test::value(b.db().log().dedupe(bob.id, room.id, "c-4")), 4u);
  CAF_CHECK_EQUAL(test::value(b.db().log().last_read(bob.id, room.id)), 4u);
  CAF_CHECK(!b.db().handoff().moving_to(room.id));
  CAF_CHECK(manager(b).state.live.find(room.id) != nullptr);

  // a dropped its copy and its fence; the rooms a owns stay there.
  auto gone = a.db().rooms().room(room.id);
  CAF_REQUIRE(!gone);
  CAF_CHECK(code(gone.error()) == api::errc::not_found);
  auto fence = a.db().handoff().moving_to(room.id);
  CAF_REQUIRE(!fence);
  CAF_CHECK(code(fence.error()) == api::errc::not_found);
  CAF_CHECK_EQUAL(test::value(a.db().log().last_seq(room.id)), 0u);
  CAF_CHECK(!a.db().log().dedupe(alice.id, room.id, "c-1"));
  CAF_CHECK(manager(a).state.live.find(room.id) == nullptr);
  CAF_CHECK(a.ctx->interest->of(room.id).hubs.empty());  // a keeps nothing of the room
  for (auto& id : kept) {
    CAF_CHECK(a.db().rooms().room(id));
    CAF_CHECK(!a.db().handoff().moving_to(id));
  }

  // Requests at a are answered by b.
  auto via_a = history(a.rooms, bob, room.id);
  CAF_REQUIRE(via_a);
  CAF_CHECK(seqs(*via_a) == one_to(6));
  auto members = ask<std::vector<api::member_entry>>(a.rooms, api::members_atom::value, room.id, alice.id);
  CAF_REQUIRE(members);
  CAF_CHECK_EQUAL(members->size(), 2u);
  auto next = send(a.rooms, bob, room.id, "after via a", "c-after");
  CAF_REQUIRE(next);
  CAF_CHECK_EQUAL(next->seq, 7u);
  auto direct = send(b.rooms, alice, room.id, "after via b");
  CAF_REQUIRE(direct);
  CAF_CHECK_EQUAL(direct->seq, 8u);

  // A retried client_msg_id after the move returns the original message.
  auto retry = send(a.rooms, alice, room.id, "before 3", "c-3");
  CAF_REQUIRE(retry);
  CAF_CHECK_EQUAL(retry->seq, 3u);
  CAF_CHECK_EQUAL(retry->msg_id, acks[2].msg_id);
  auto retry_during = send(b.rooms, alice, room.id, "during", "c-during");
  CAF_REQUIRE(retry_during);
  CAF_CHECK_EQUAL(retry_during->seq, 6u);
  CAF_CHECK_EQUAL(test::value(b.db().log().last_seq(room.id)), 8u);
  CAF_CHECK(manager(a).state.live.find(room.id) == nullptr);

  // Alice's session at a saw every message once, in order, before and after.
  std::vector<api::seq_t> seen;
  for (auto& ev : alice_sink->with_op("message"))
    seen.push_back(ev["data"]["seq"].get<api::seq_t>());
  CAF_CHECK(seen == one_to(8));
  CAF_CHECK_EQUAL(alice_sink->with_op("member").size(), 1u);  // bob joined
}

CAF_TEST(a room in several pieces serves sends waiting at either node once it arrives) {
  auto alice = make_user("alice");
  std::vector<api::room_id> kept;
  auto room = room_for_b(alice, kept);
  constexpr api::seq_t n = 300;  // more than one piece of 256
  for (api::seq_t i = 1; i <= n; ++i) {
    auto ack = send(a.rooms, alice, room.id, "m " + std::to_string(i), "m-" + std::to_string(i));
    CAF_REQUIRE(ack);
    CAF_REQUIRE_EQUAL(ack->seq, i);
  }
  copy_users_to_b({alice});
  join_views();
  self->send(a.rooms, api::view_atom::value);
  // Step until the first piece is written at b: the room is incoming there
  // and still moving at a.
  bool first_piece = false;
  for (int i = 0; i < 50 && !first_piece && sched.try_run_once(); ++i)
    first_piece = test::value(b.db().log().last_seq(room.id)) > 0;
  CAF_REQUIRE(first_piece);
  CAF_CHECK_EQUAL(manager(b).state.incoming.count(room.id), 1u);
  CAF_CHECK_EQUAL(manager(a).state.moving.count(room.id), 1u);
  CAF_CHECK(!b.db().rooms().room(room.id));  // not held before the last piece
  auto at_a = send_later(a.rooms, alice, room.id, "waits at a", "w-a");
  auto at_b = send_later(b.rooms, alice, room.id, "waits at b", "w-b");
  auto retried = send_later(b.rooms, alice, room.id, "m 10", "m-10");
  sched.run();
  auto ack_a = answer(at_a);
  auto ack_b = answer(at_b);
  auto ack_retry = answer(retried);
  CAF_REQUIRE(ack_a);
  CAF_REQUIRE(ack_b);
  CAF_REQUIRE(ack_retry);
  CAF_CHECK_EQUAL(ack_retry->seq, 10u);
  std::set<api::seq_t> fresh{ack_a->seq, ack_b->seq};
  CAF_CHECK(fresh == (std::set<api::seq_t>{n + 1, n + 2}));
  auto page = test::value(b.db().log().history(room.id, std::nullopt, api::seq_t{0}, 1000));
  CAF_CHECK(seqs(page) == one_to(n + 2));
  CAF_CHECK_EQUAL(test::value(b.db().log().dedupe(alice.id, room.id, "m-300")), n);
  CAF_CHECK(!a.db().rooms().room(room.id));
  CAF_CHECK(!a.db().handoff().moving_to(room.id));
  CAF_CHECK(manager(b).state.incoming.empty());
  auto via_a = history(a.rooms, alice, room.id);
  CAF_REQUIRE(via_a);
  CAF_CHECK_EQUAL(via_a->messages.size(), n + 2);
}

CAF_TEST(a request at the new owner before the room arrives is found at the old holder) {
  auto alice = make_user("alice");
  std::vector<api::room_id> kept;
  auto room = room_for_b(alice, kept);
  CAF_REQUIRE(send(a.rooms, alice, room.id, "one", "c-1"));
  copy_users_to_b({alice});
  join_views();
  // b is asked first: it owns the id but holds nothing, so it asks a.
  auto early = send_later(b.rooms, alice, room.id, "early", "c-early");
  self->send(a.rooms, api::view_atom::value);
  sched.run();
  auto ack = answer(early);
  CAF_REQUIRE(ack);
  CAF_CHECK_EQUAL(ack->seq, 2u);
  CAF_CHECK(!a.db().rooms().room(room.id));
  CAF_CHECK(!a.db().handoff().moving_to(room.id));
  CAF_CHECK_EQUAL(test::value(b.db().log().last_seq(room.id)), 2u);
  auto page = test::value(b.db().log().history(room.id, std::nullopt, api::seq_t{0}, 100));
  CAF_CHECK(seqs(page) == one_to(2));
  // Only b runs the room actor now.
  CAF_CHECK(manager(a).state.live.find(room.id) == nullptr);
  CAF_CHECK(manager(b).state.live.find(room.id) != nullptr);
}

CAF_TEST(a drain hands every room to the other node and is answered when none is left) {
  auto alice = make_user("alice");
  std::vector<api::room_id> rooms;
  for (int i = 0; i < 6; ++i) {
    auto r = ask<api::room_info>(a.rooms, api::create_atom::value, as(alice), "room " + std::to_string(i),
                                 std::string(), std::string("public"), false);
    CAF_REQUIRE(r);
    rooms.push_back(r->id);
    for (int k = 1; k <= 3; ++k) {
      auto n = std::to_string(k);
      CAF_REQUIRE(send(a.rooms, alice, r->id, "m" + n, "c" + n));
    }
  }
  copy_users_to_b({alice});
  // a drains: both views hold a and b, and only b owns ids.
  a.place().set_members({a.card, b.card}, {}, {"a"});
  b.place().set_members({b.card, a.card}, {}, {"a"});
  CAF_CHECK(!a.place().is_owner());
  self->send(b.rooms, api::view_atom::value);
  sched.run();
  self->send(a.rooms, api::view_atom::value);
  auto drained = ask<bool>(a.rooms, api::drain_atom::value);
  CAF_REQUIRE(drained);
  CAF_CHECK(*drained);
  CAF_CHECK(test::value(a.db().handoff().room_ids()).empty());
  CAF_CHECK_EQUAL(test::value(b.db().handoff().room_ids()).size(), rooms.size());
  for (auto& id : rooms) {
    auto page = history(b.rooms, alice, id);
    CAF_REQUIRE(page);
    CAF_CHECK(seqs(*page) == one_to(3));
    // Requests through a reach b.
    auto ack = send(a.rooms, alice, id, "after", "c-after");
    CAF_REQUIRE(ack);
    CAF_CHECK_EQUAL(ack->seq, 4u);
  }
  // A room made through the draining node is made at b.
  auto made = ask<api::room_info>(a.rooms, api::create_atom::value, as(alice), std::string("late"), std::string(),
                                  std::string("public"), false);
  CAF_REQUIRE(made);
  CAF_CHECK(b.db().rooms().room(made->id));
  CAF_CHECK(!a.db().rooms().room(made->id));
  CAF_CHECK(test::value(ask<bool>(a.rooms, api::drain_atom::value)));
}

CAF_TEST_FIXTURE_SCOPE_END()
