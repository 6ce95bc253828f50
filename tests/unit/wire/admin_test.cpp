#define CAF_SUITE admin_json
#include <caf/test/unit_test.hpp>

#include "api/errors.hpp"
#include "wire/admin.hpp"
#include "wire/events.hpp"

using namespace confab;

CAF_TEST(online means any status but offline) {
  CAF_CHECK(wire::is_online(wire::presence_json("online", 0)));
  CAF_CHECK(wire::is_online(wire::presence_json("dnd", 0)));
  CAF_CHECK(!wire::is_online(wire::presence_json("offline", 5)));
  CAF_CHECK(!wire::is_online("not json"));
}

CAF_TEST(node rows count every actor kind) {
  api::node_status n;
  n.id = "n1";
  n.actors = {3};
  auto j = wire::json::parse(wire::nodes_json({n}));
  CAF_REQUIRE_EQUAL(j["nodes"].size(), 1u);
  auto& actors = j["nodes"][0]["actors"];
  CAF_CHECK_EQUAL(actors.size(), api::actor_kinds().size());
  CAF_CHECK_EQUAL(actors[api::actor_kinds()[0]].get<std::uint64_t>(), 3u);
  CAF_CHECK_EQUAL(actors[api::actor_kinds()[1]].get<std::uint64_t>(), 0u);
}

CAF_TEST(an actor page and a user view have the contract fields) {
  api::actor_info a{"s_1", "session", "n1", 2, 9, 100, 200, "10.0.0.7:5555"};
  auto page = wire::json::parse(wire::actor_page_json({a}, 7, 5, 1));
  CAF_CHECK_EQUAL(page["total"].get<std::uint64_t>(), 7u);
  CAF_CHECK_EQUAL(page["offset"].get<std::uint64_t>(), 5u);
  CAF_CHECK_EQUAL(page["actors"][0]["processed"].get<std::uint64_t>(), 9u);
  api::user_info ann{api::user_id{"u_1"}, "ann", "Ann", "", ""};
  auto user = wire::json::parse(wire::admin_user_json(ann, wire::presence_json("online", 0), {a}));
  CAF_CHECK_EQUAL(user["sessions"][0]["remote"].get<std::string>(), "10.0.0.7:5555");
  CAF_CHECK_EQUAL(user["presence"]["status"].get<std::string>(), "online");
  CAF_CHECK_EQUAL(wire::node_action_json("n2", "draining"), R"({"node":"n2","status":"draining"})");
}

CAF_TEST(bulk users need a bounded list of names and a password) {
  auto ok = wire::decode_bulk_users(wire::json::parse(R"({"usernames":["a","b"],"password":"pw"})"), 3);
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->usernames.size(), 2u);
  auto too_many = wire::decode_bulk_users(wire::json::parse(R"({"usernames":["a","b","c","d"],"password":"pw"})"), 3);
  CAF_REQUIRE(!too_many);
  CAF_CHECK_EQUAL(api::describe(too_many.error()).message,
                  "usernames must be a list of 1-3 names and password a string");
  auto typed = wire::decode_bulk_users(wire::json::parse(R"({"usernames":["a",1],"password":"pw"})"), 3);
  CAF_REQUIRE(!typed);
  CAF_CHECK_EQUAL(api::describe(typed.error()).message, "usernames must be strings");
  CAF_CHECK(!wire::decode_bulk_users(wire::json::parse(R"({"usernames":[],"password":"pw"})"), 3));
  CAF_CHECK(!wire::decode_bulk_users(wire::json::parse(R"({"usernames":["a"]})"), 3));
}
