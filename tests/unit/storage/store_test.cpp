#define CAF_SUITE storage
#include <caf/test/unit_test.hpp>

#include "api/errors.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "tests/unit/helpers.hpp"

using namespace confab;

namespace {

api::room_id room{"r_0000000000000001"};
api::user_id alice{"u_a"};

std::shared_ptr<storage::store> open_store(const std::string& dir) {
  auto s = storage::store::open(dir);
  CAF_REQUIRE(s);
  return *s;
}

std::string msg(api::seq_t seq) {
  return "{\"seq\":" + std::to_string(seq) + "}";
}

}  // namespace

CAF_TEST(message keys sort by seq within a room) {
  CAF_CHECK_LESS(storage::keys::message(room, 255), storage::keys::message(room, 256));
  CAF_CHECK_LESS(storage::keys::message(room, 1), storage::keys::message(room, 1ull << 40));
  CAF_CHECK_EQUAL(storage::keys::seq_of(storage::keys::message(room, 123456789)), 123456789u);
}

CAF_TEST(append then history pages in every direction) {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  api::room_id other{"r_0000000000000002"};
  for (api::seq_t s = 1; s <= 10; ++s)
    CAF_REQUIRE(!db->log().append({room, s, msg(s), alice, "", {}}));
  CAF_REQUIRE(!db->log().append({other, 1, msg(99), alice, "", {}}));
  CAF_CHECK_EQUAL(test::value(db->log().last_seq(room)), 10u);
  CAF_CHECK_EQUAL(test::value(db->log().last_seq(api::room_id{"r_none"})), 0u);
  auto newest = *db->log().history(room, std::nullopt, std::nullopt, 3);
  CAF_CHECK_EQUAL(newest.messages, (std::vector<std::string>{msg(8), msg(9), msg(10)}));
  CAF_CHECK(newest.has_more);
  auto before = *db->log().history(room, 3, std::nullopt, 5);
  CAF_CHECK_EQUAL(before.messages, (std::vector<std::string>{msg(1), msg(2)}));
  CAF_CHECK(!before.has_more);
  auto after = *db->log().history(room, std::nullopt, 7, 2);
  CAF_CHECK_EQUAL(after.messages, (std::vector<std::string>{msg(8), msg(9)}));
  CAF_CHECK(after.has_more);
  auto tail = *db->log().history(room, std::nullopt, 8, 5);
  CAF_CHECK_EQUAL(tail.messages, (std::vector<std::string>{msg(9), msg(10)}));
  CAF_CHECK(!tail.has_more);
  auto between = *db->log().history(room, 6, 2, 10);
  CAF_CHECK_EQUAL(between.messages, (std::vector<std::string>{msg(3), msg(4), msg(5)}));
  CAF_CHECK(!between.has_more);
  auto from_start = *db->log().history(room, std::nullopt, 0, 2);
  CAF_CHECK_EQUAL(from_start.messages, (std::vector<std::string>{msg(1), msg(2)}));
  CAF_CHECK(from_start.has_more);
  CAF_CHECK(db->log().history(room, 1, std::nullopt, 5)->messages.empty());
  CAF_CHECK(db->log().history(room, 0, std::nullopt, 5)->messages.empty());
}

// The newest page is read forwards from its first seq (seqs have no gaps);
// every edge of that agrees with reading backwards, and a gap (which a log
// never has) still gives the newest messages.
CAF_TEST(the newest page and pages before a seq at the edges) {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  api::room_id before_room{"r_0000000000000000"};  // a room sorting before, one after
  api::room_id after_room{"r_0000000000000003"};
  CAF_REQUIRE(!db->log().append({before_room, 1, msg(70), alice, "", {}}));
  for (api::seq_t s = 1; s <= 10; ++s)
    CAF_REQUIRE(!db->log().append({room, s, msg(s), alice, "", {}}));
  CAF_REQUIRE(!db->log().append({after_room, 1, msg(80), alice, "", {}}));
  auto seqs = [&](std::optional<api::seq_t> before, std::uint32_t limit) {
    auto page = *db->log().history(room, before, std::nullopt, limit);
    std::vector<std::string> expect;
    auto top = std::min<api::seq_t>(before ? *before - 1 : 10, 10);
    for (auto s = top >= limit ? top - limit + 1 : 1; s <= top && s >= 1; ++s)
      expect.push_back(msg(s));
    CAF_CHECK_EQUAL(page.messages, expect);
    CAF_CHECK_EQUAL(page.has_more, !expect.empty() && expect.front() != msg(1));
  };
  for (std::uint32_t limit : {1u, 2u, 9u, 10u, 11u, 50u}) {
    seqs(std::nullopt, limit);
    for (api::seq_t before : {2u, 5u, 10u, 11u, 12u, 100u})
      seqs(before, limit);
  }
  // A gap at 5 (never in a room's log): still the newest that exist.
  api::room_id gap{"r_0000000000000002"};
  for (api::seq_t s : {1u, 2u, 3u, 4u, 6u, 7u})
    CAF_REQUIRE(!db->log().append({gap, s, msg(s), alice, "", {}}));
  auto page = *db->log().history(gap, std::nullopt, std::nullopt, 3);
  CAF_CHECK_EQUAL(page.messages, (std::vector<std::string>{msg(4), msg(6), msg(7)}));
  CAF_CHECK(page.has_more);
  page = *db->log().history(gap, 7, std::nullopt, 2);
  CAF_CHECK_EQUAL(page.messages, (std::vector<std::string>{msg(4), msg(6)}));
  CAF_CHECK(page.has_more);
}

CAF_TEST(dedupe records and messages survive reopening) {
  test::temp_dir dir;
  {
    auto db = open_store(dir.path());
    CAF_REQUIRE(!db->log().append({room, 1, msg(1), alice, "c1", {}}));
  }
  auto db = open_store(dir.path());
  CAF_CHECK_EQUAL(test::value(db->log().dedupe(alice, room, "c1")), 1u);
  CAF_CHECK(api::describe(db->log().dedupe(alice, room, "c2").error()).code == api::errc::not_found);
  CAF_CHECK(api::describe(db->log().dedupe(api::user_id{"u_b"}, room, "c1").error()).code == api::errc::not_found);
  CAF_CHECK_EQUAL(test::value(db->log().message(room, 1)), msg(1));
}

CAF_TEST(removed nodes survive reopening) {
  test::temp_dir dir;
  {
    auto db = open_store(dir.path());
    CAF_CHECK(test::value(db->handoff().removed_nodes()).empty());
    CAF_REQUIRE(!db->handoff().add_removed_node("n4"));
    CAF_REQUIRE(!db->handoff().add_removed_node("n2"));
    CAF_REQUIRE(!db->handoff().add_removed_node("n4"));
  }
  auto db = open_store(dir.path());
  CAF_CHECK(test::value(db->handoff().removed_nodes()) == (std::vector<std::string>{"n2", "n4"}));
}

CAF_TEST(rooms members and users) {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  api::room_info info{room, "general", "t", "public", "room", 1, alice};
  CAF_REQUIRE(!db->rooms().put_room(info, {{alice, "owner"}}));
  api::room_info priv{api::room_id{"r_p"}, "secret", "", "private", "room", 2, alice, true};
  CAF_REQUIRE(!db->rooms().put_room(priv, {{alice, "owner"}}));
  CAF_CHECK_EQUAL(test::value(db->rooms().room(room)).name, "general");
  CAF_CHECK(!test::value(db->rooms().room(room)).encrypted);
  CAF_CHECK(test::value(db->rooms().room(priv.id)).encrypted);
  CAF_CHECK_EQUAL(test::value(db->rooms().public_rooms("", 100)).size(), 1u);
  // Pages by id: after a room id, the next public ones; private ones never.
  for (auto id : {"r_c", "r_d", "r_e"})
    CAF_REQUIRE(!db->rooms().put_room({api::room_id{id}, id, "", "public", "room", 3, alice}, {{alice, "owner"}}));
  auto first = test::value(db->rooms().public_rooms("", 2));
  CAF_REQUIRE_EQUAL(first.size(), 2u);
  CAF_CHECK_EQUAL(first[0].id.value, room.value);  // r_0...
  CAF_CHECK_EQUAL(first[1].id.value, "r_c");
  auto rest = test::value(db->rooms().public_rooms(first[1].id.value, 2));
  CAF_REQUIRE_EQUAL(rest.size(), 2u);
  CAF_CHECK_EQUAL(rest[0].id.value, "r_d");
  CAF_CHECK_EQUAL(rest[1].id.value, "r_e");
  CAF_CHECK(test::value(db->rooms().public_rooms("r_e", 2)).empty());
  CAF_CHECK_EQUAL(test::value(db->rooms().public_rooms("r_cc", 5)).size(), 2u);  // an id that is not stored
  api::user_id bob{"u_b"};
  CAF_REQUIRE(!db->rooms().set_member(priv.id, bob, "invited"));
  CAF_CHECK_EQUAL(test::value(db->rooms().rooms_of(bob)).size(), 0u);
  CAF_REQUIRE(!db->rooms().set_member(priv.id, bob, "member"));
  CAF_CHECK_EQUAL(test::value(db->rooms().rooms_of(bob)).size(), 1u);
  auto members = test::value(db->rooms().members(priv.id));
  CAF_CHECK_EQUAL(members.at(bob), "member");
  CAF_REQUIRE(!db->rooms().remove_member(priv.id, bob));
  CAF_CHECK_EQUAL(test::value(db->rooms().rooms_of(bob)).size(), 0u);
  CAF_CHECK_EQUAL(test::value(db->rooms().members(priv.id)).count(bob), 0u);
  storage::stored_user u;
  u.info = {alice, "alice", "Alice", "", ""};
  u.password_hash = "h";
  CAF_REQUIRE(!db->users().put_user(u, true));
  CAF_CHECK(test::value(db->users().user_id_of("alice")) == alice);
  CAF_CHECK_EQUAL(test::value(db->users().user(alice)).info.display_name, "Alice");
  CAF_CHECK(api::describe(db->users().user_id_of("nobody").error()).code == api::errc::not_found);
}

CAF_TEST(a second process cannot open a store in use) {
  test::temp_dir dir;
  auto db = open_store(dir.path());
  auto again = storage::store::open(dir.path());
  CAF_CHECK(!again);
}
