#define CAF_SUITE session
#include "tests/unit/node_fixture.hpp"

using namespace confab;
using nlohmann::json;
using test::node_fixture;

namespace {

config::limits small_burst() {
  config::limits lim;
  lim.rate_per_s = 0.001;  // no refill during a test
  lim.rate_burst = 8;
  return lim;
}

struct fixture : node_fixture {
  fixture() : node_fixture(small_burst()) {}

  std::shared_ptr<test::recording_sink> sink = std::make_shared<test::recording_sink>();
  api::session_actor session = open_session(sink);

  api::session_actor open_session(const std::shared_ptr<test::recording_sink>& s) {
    auto a = sys.spawn(actors::session_actor, cctx, node.db().users(), api::sink_ptr(s), std::string("127.0.0.1"));
    extra.push_back(caf::actor_cast<caf::actor>(a));
    sched.run();
    return a;
  }

  void frame(const api::session_actor& to, const std::string& text) {
    self->send(to, api::frame_atom::value, text);
    sched.run();
  }
  void frame(const std::string& text) { frame(session, text); }

  // The newest frame, parsed (kept alive for the checks that read it).
  json& last() {
    last_frame = json::parse(sink->frames.back());
    return last_frame;
  }
  json last_frame;

  api::user_info authed(const std::string& name) {
    auto u = make_user(name);
    frame(json{{"op", "auth"}, {"id", 1}, {"token", login(name)}}.dump());
    return u;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(session_tests, fixture)

CAF_TEST(the first frame must be auth) {
  frame(R"({"op":"ping","id":1})");
  CAF_CHECK_EQUAL(last()["code"], "unauthorized");
  CAF_CHECK_EQUAL(last()["id"], 1);
  CAF_CHECK_EQUAL(sink->closes, std::vector<std::uint16_t>{4401});
}

CAF_TEST(a bad token closes with 4401) {
  frame(R"({"op":"auth","id":"a","token":"not-a-token"})");
  CAF_CHECK_EQUAL(last()["code"], "unauthorized");
  CAF_CHECK_EQUAL(last()["id"], "a");
  CAF_CHECK_EQUAL(sink->closes, std::vector<std::uint16_t>{4401});
}

CAF_TEST(frames that are not JSON objects close with 1007) {
  frame("not json");
  CAF_CHECK_EQUAL(sink->closes, std::vector<std::uint16_t>{1007});
  auto other = std::make_shared<test::recording_sink>();
  frame(open_session(other), "[1,2,3]");
  CAF_CHECK_EQUAL(other->closes, std::vector<std::uint16_t>{1007});
  CAF_CHECK(other->frames.empty());
}

CAF_TEST(a silent socket is closed with 4408) {
  CAF_CHECK(sink->closes.empty());
  advance_time(std::chrono::milliseconds(ctx->lim.auth_timeout_ms));
  sched.run();
  CAF_CHECK_EQUAL(sink->closes, std::vector<std::uint16_t>{4408});
}

CAF_TEST(auth answers user session node and rooms) {
  auto u = authed("alice");
  auto ok = last();
  CAF_CHECK_EQUAL(ok["op"], "ok");
  CAF_CHECK_EQUAL(ok["id"], 1);
  CAF_CHECK_EQUAL(ok["data"]["user"]["username"], "alice");
  CAF_CHECK_EQUAL(ok["data"]["node"], "test-node");
  CAF_CHECK(ok["data"]["rooms"].is_array());
  CAF_CHECK(ok["data"]["session"].get<std::string>().rfind("s_", 0) == 0);
  // The silent-socket timer no longer applies.
  advance_time(std::chrono::milliseconds(ctx->lim.auth_timeout_ms));
  sched.run();
  CAF_CHECK(sink->closes.empty());
  frame(R"({"op":"ping","id":2})");
  CAF_CHECK_EQUAL(last()["op"], "ok");
}

CAF_TEST(requests after auth get ok or the documented error) {
  auto u = authed("alice");
  frame(R"({"op":"fly","id":3})");
  CAF_CHECK_EQUAL(last()["code"], "unknown_op");
  frame(R"({"op":"ping"})");
  CAF_CHECK_EQUAL(last()["code"], "invalid_request");
  CAF_CHECK(last()["id"].is_null());
  frame(R"({"op":"send","id":4,"room":"r_none","body":"x","client_msg_id":"c"})");
  CAF_CHECK_EQUAL(last()["code"], "not_found");
  frame(R"({"op":"send","id":5,"room":7,"body":"x","client_msg_id":"c"})");
  CAF_CHECK_EQUAL(last()["code"], "invalid_request");
  frame(R"({"op":"history","id":6,"room":"r_none","limit":0})");
  CAF_CHECK_EQUAL(last()["code"], "invalid_request");
  CAF_CHECK(sink->closes.empty());
}

CAF_TEST(send acks after storing and the sending session gets the event) {
  auto u = authed("alice");
  auto room = make_room(u, "public");
  frame(json{{"op", "join"}, {"id", 2}, {"room", room.id.value}}.dump());
  CAF_CHECK_EQUAL(last()["data"]["room"]["id"], room.id.value);
  frame(json{{"op", "send"}, {"id", 3}, {"room", room.id.value}, {"body", "hello"}, {"client_msg_id", "c1"}}.dump());
  auto acks = sink->with_op("ok");
  CAF_CHECK_EQUAL(acks.back()["id"], 3);
  CAF_CHECK_EQUAL(acks.back()["data"]["seq"], 1);
  CAF_CHECK_EQUAL(test::value(node.db().log().last_seq(room.id)), 1u);
  auto events = sink->with_op("message");
  CAF_REQUIRE_EQUAL(events.size(), 1u);
  CAF_CHECK_EQUAL(events[0]["data"]["body"], "hello");
  CAF_CHECK_EQUAL(events[0]["data"]["client_msg_id"], "c1");
  frame(json{{"op", "send"}, {"id", 4}, {"room", room.id.value}, {"body", "hello"}, {"client_msg_id", "c1"}}.dump());
  CAF_CHECK_EQUAL(last()["data"]["seq"], 1);
  CAF_CHECK_EQUAL(sink->with_op("message").size(), 1u);
  frame(json{{"op", "history"}, {"id", 5}, {"room", room.id.value}}.dump());
  CAF_CHECK_EQUAL(last()["data"]["messages"].size(), 1u);
  CAF_CHECK_EQUAL(last()["data"]["has_more"], false);
}

CAF_TEST(the request rate is limited per session) {
  authed("alice");
  for (int i = 0; i < 8; ++i)
    frame(json{{"op", "ping"}, {"id", 10 + i}}.dump());
  CAF_CHECK_EQUAL(sink->with_op("ok").size(), 9u);  // auth + 8 pings
  frame(R"({"op":"ping","id":99})");
  CAF_CHECK_EQUAL(last()["code"], "rate_limited");
  CAF_CHECK(last()["retry_after_ms"].get<std::uint64_t>() > 0);
  CAF_CHECK(sink->closes.empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
