#define CAF_SUITE events
#include <caf/test/unit_test.hpp>

#include "api/errors.hpp"
#include "wire/codec.hpp"
#include "wire/events.hpp"

using namespace confab;

CAF_TEST(a notification preview keeps the first 100 code points whole) {
  std::string body;
  for (int i = 0; i < 150; ++i)
    body += "\xC3\xA9";  // two bytes each
  auto j = wire::json::parse(wire::notification_json(api::room_id{"r_1"}, 7, "bob", "mention", body));
  auto preview = j["preview"].get<std::string>();
  CAF_CHECK_EQUAL(wire::code_points(preview), 100u);
  CAF_CHECK_EQUAL(preview.size(), 200u);
  CAF_CHECK_EQUAL(j["seq"].get<std::uint64_t>(), 7u);
  CAF_CHECK_EQUAL(j["reason"].get<std::string>(), "mention");
  auto short_one = wire::json::parse(wire::notification_json(api::room_id{"r_1"}, 1, "bob", "dm", "hi"));
  CAF_CHECK_EQUAL(short_one["preview"].get<std::string>(), "hi");
  auto sealed = wire::json::parse(wire::notification_json(api::room_id{"r_1"}, 2, "bob", "dm", std::nullopt));
  CAF_CHECK(!sealed.contains("preview"));
  CAF_CHECK_EQUAL(sealed["from"].get<std::string>(), "bob");
}

CAF_TEST(last_seen is shown only for users who are offline) {
  CAF_CHECK_EQUAL(wire::presence_json("online", 5), R"({"status":"online"})");
  CAF_CHECK_EQUAL(wire::presence_json("offline", 0), R"({"status":"offline"})");
  CAF_CHECK_EQUAL(wire::presence_json("offline", 5), R"({"last_seen":5,"status":"offline"})");
  CAF_CHECK_EQUAL(wire::presence_event_json("ann", "away", 5), R"({"status":"away","user":"ann"})");
}

CAF_TEST(member typing and push data name the room and user) {
  CAF_CHECK_EQUAL(wire::member_event_json(api::room_id{"r_1"}, "ann", "joined"),
                  R"({"action":"joined","room":"r_1","user":"ann"})");
  CAF_CHECK_EQUAL(wire::member_summary_json(api::room_id{"r_1"}, 1001, {{"ann", "joined"}, {"bo", "left"}}, 7),
                  R"({"changes":[{"action":"joined","user":"ann"},{"action":"left","user":"bo"}],)"
                  R"("members":1001,"more":7,"room":"r_1"})");
  CAF_CHECK_EQUAL(wire::member_summary_json(api::room_id{"r_1"}, 0, {}, 0),
                  R"({"changes":[],"members":0,"more":0,"room":"r_1"})");
  CAF_CHECK_EQUAL(wire::typing_event_json(api::room_id{"r_1"}, "ann", false),
                  R"({"active":false,"room":"r_1","user":"ann"})");
  CAF_CHECK_EQUAL(wire::push_json("a\"b", R"({"seq":1})"), R"({"user":"a\"b","notification":{"seq":1}})");
}

CAF_TEST(a stored message gives back its ack and an unreadable one is unavailable) {
  auto ack = wire::stored_ack(api::room_id{"r_1"}, 3, R"({"msg_id":"m_1","ts":42,"body":"x"})");
  CAF_REQUIRE(ack);
  CAF_CHECK_EQUAL(ack->msg_id, "m_1");
  CAF_CHECK_EQUAL(ack->ts, 42);
  CAF_CHECK_EQUAL(ack->seq, 3u);
  CAF_CHECK_EQUAL(ack->message_json, R"({"msg_id":"m_1","ts":42,"body":"x"})");
  auto bad = wire::stored_ack(api::room_id{"r_1"}, 3, "[1]");
  CAF_REQUIRE(!bad);
  CAF_CHECK(api::describe(bad.error()).code == api::errc::unavailable);
  CAF_CHECK(!wire::stored_ack(api::room_id{"r_1"}, 3, "{"));
}
