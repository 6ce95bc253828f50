#define CAF_SUITE codec
#include <caf/test/unit_test.hpp>

#include "wire/codec.hpp"

using namespace confab;

CAF_TEST(code points count characters not bytes) {
  CAF_CHECK_EQUAL(wire::code_points("abc"), 3u);
  CAF_CHECK_EQUAL(wire::code_points("\xF0\x9F\x98\x80"), 1u);  // one emoji
  CAF_CHECK_EQUAL(wire::code_points("\xE2\x80\x8F"
                                    "a"),
                  2u);  // RTL mark + a
  CAF_CHECK_EQUAL(wire::code_points(std::string("a\0b", 3)), 3u);
}

CAF_TEST(frames that are not JSON objects are told apart) {
  wire::json j;
  CAF_CHECK(wire::parse_object("{\"op\":\"ping\"}", j) == wire::parse_status::ok);
  CAF_CHECK(wire::parse_object("[1,2]", j) == wire::parse_status::not_object);
  CAF_CHECK(wire::parse_object("\"text\"", j) == wire::parse_status::not_object);
  CAF_CHECK(wire::parse_object("{\"op\":", j) == wire::parse_status::not_json);
  CAF_CHECK(wire::parse_object("{\"a\":\"\xff\"}", j) == wire::parse_status::not_json);
}

CAF_TEST(an http body is empty or one JSON object) {
  auto empty = wire::request_body::parse("");
  CAF_REQUIRE(empty);
  CAF_CHECK(empty->is_object());
  CAF_CHECK(static_cast<const wire::json&>(*empty).empty());
  auto named = wire::request_body::parse(R"({"username":"ann"})");
  CAF_REQUIRE(named);
  CAF_CHECK_EQUAL(static_cast<const wire::json&>(*named).at("username"), "ann");
  for (std::string bad : std::initializer_list<std::string>{"[1]", "5", "{\"a\":", std::string("{}\0{\"a\":1}", 10)}) {
    auto b = wire::request_body::parse(bad);
    CAF_REQUIRE(!b);
    auto f = api::describe(b.error());
    CAF_CHECK(f.code == api::errc::invalid_request);
    CAF_CHECK_EQUAL(f.message, "body must be a JSON object");
  }
}

CAF_TEST(field readers reject wrong types) {
  auto j = wire::json::parse(R"({"s":"x","n":5,"neg":-1,"f":1.5,"nul":null})");
  std::string err;
  CAF_CHECK_EQUAL(wire::string_field(j, "s", true, err).value_or(""), "x");
  CAF_CHECK(err.empty());
  CAF_CHECK(!wire::string_field(j, "n", true, err));
  CAF_CHECK(!err.empty());
  err.clear();
  CAF_CHECK(!wire::string_field(j, "missing", false, err));
  CAF_CHECK(err.empty());
  CAF_CHECK(!wire::string_field(j, "missing", true, err));
  CAF_CHECK(!err.empty());
  err.clear();
  CAF_CHECK_EQUAL(wire::seq_field(j, "n", err).value_or(0), 5u);
  CAF_CHECK(!wire::seq_field(j, "neg", err));
  CAF_CHECK(!err.empty());
  err.clear();
  CAF_CHECK(!wire::seq_field(j, "f", err));
  CAF_CHECK(!err.empty());
  err.clear();
  CAF_CHECK(!wire::seq_field(j, "nul", err));
  CAF_CHECK(err.empty());
}

CAF_TEST(replies and errors have the contract shape) {
  CAF_CHECK_EQUAL(wire::ok_reply("7", "{}"), R"({"op":"ok","id":7,"data":{}})");
  auto e = wire::json::parse(wire::error_reply("\"x\"", {api::errc::rate_limited, "slow down", 250}));
  CAF_CHECK_EQUAL(e["op"], "error");
  CAF_CHECK_EQUAL(e["id"], "x");
  CAF_CHECK_EQUAL(e["code"], "rate_limited");
  CAF_CHECK_EQUAL(e["retry_after_ms"], 250);
  auto h = wire::json::parse(wire::http_error({api::errc::not_member, "no", 0}));
  CAF_CHECK_EQUAL(h["error"]["code"], "not_member");
  CAF_CHECK(!h["error"].contains("retry_after_ms"));
  wire::message_fields m{api::room_id{"r_1"}, 3, "m_1", "alice", 5, std::string("a\0b", 3), "c", 0, "", ""};
  auto msg = wire::json::parse(wire::message_json(m));
  CAF_CHECK_EQUAL(msg["body"].get<std::string>(), std::string("a\0b", 3));
  CAF_CHECK(!msg.contains("reply_to"));
  CAF_CHECK(!msg.contains("e2ee"));
  m.body.clear();
  m.e2ee = R"({"alg":"a","ciphertexts":{"ann:d":"AA"},"sender_device":"d"})";
  auto sealed = wire::json::parse(wire::message_json(m));
  CAF_CHECK(!sealed.contains("body"));
  CAF_CHECK(sealed["e2ee"] == wire::json::parse(m.e2ee));
}
