#define CAF_SUITE commands
#include <caf/test/unit_test.hpp>

#include <map>
#include <string>
#include <variant>

#include "api/errors.hpp"
#include "wire/commands.hpp"

using namespace confab;

namespace {

const wire::frame_rules rules{10, 200, 2};

api::errc code_of(const caf::error& err) {
  return api::describe(err).code;
}

template <class T>
const T* command_of(const wire::decoded_frame& f) {
  return f.command ? std::get_if<T>(&*f.command) : nullptr;
}

}  // namespace

CAF_TEST(a frame gives its id op and command) {
  auto f =
      wire::decode_frame(R"({"op":"send","id":7,"room":"r_1","body":"hi","client_msg_id":"c1","reply_to":3})", rules);
  CAF_CHECK(f.status == wire::parse_status::ok);
  CAF_CHECK(f.id_ok && f.id == "7" && f.op == "send");
  auto* send = command_of<api::send_command>(f);
  CAF_REQUIRE(send != nullptr);
  CAF_CHECK(send->room.value == "r_1" && send->body == "hi" && send->client_msg_id == "c1" && send->reply_to == 3);
  auto s = wire::decode_frame(R"({"op":"history","id":"a","room":"r_1","before":9})", rules);
  auto* h = command_of<api::history_command>(s);
  CAF_REQUIRE(h != nullptr);
  CAF_CHECK(s.id == R"("a")" && h->has_before && h->before == 9 && !h->has_after && h->limit == 50);
  CAF_CHECK(command_of<api::ping_command>(wire::decode_frame(R"({"op":"ping","id":1})", rules)) != nullptr);
  auto w = wire::decode_frame(R"({"op":"watch","id":1,"users":["ann","bob"]})", rules);
  CAF_REQUIRE(command_of<api::watch_command>(w) != nullptr);
  CAF_CHECK_EQUAL(command_of<api::watch_command>(w)->users.size(), 2u);
}

CAF_TEST(each broken rule gets the error of the contract) {
  auto code = [](const char* text) {
    auto f = wire::decode_frame(text, rules);
    return f.command ? api::errc{} : code_of(f.command.error());
  };
  CAF_CHECK(wire::decode_frame("{", rules).status == wire::parse_status::not_json);
  CAF_CHECK(wire::decode_frame("[1]", rules).status == wire::parse_status::not_object);
  CAF_CHECK(!wire::decode_frame(R"({"op":"ping","id":[1]})", rules).id_ok);
  CAF_CHECK(code(R"({"op":"frobnicate","id":1})") == api::errc::unknown_op);
  CAF_CHECK(code(R"({"op":"auth","id":1})") == api::errc::unauthorized);
  CAF_CHECK(code(R"({"op":"send","id":1,"body":"x","client_msg_id":"c"})") == api::errc::invalid_request);
  CAF_CHECK(code(R"({"op":"send","id":1,"room":"r","body":"x"})") == api::errc::invalid_request);
  CAF_CHECK(code(R"({"op":"send","id":1,"room":"r","body":"","client_msg_id":"c"})") == api::errc::invalid_request);
  CAF_CHECK(code(R"({"op":"send","id":1,"room":"r","body":"01234567890","client_msg_id":"c"})") ==
            api::errc::too_large);
  CAF_CHECK(code(R"({"op":"history","id":1,"room":"r","limit":201})") == api::errc::invalid_request);
  CAF_CHECK(code(R"({"op":"history","id":1,"room":"r","after":-1})") == api::errc::invalid_request);
  CAF_CHECK(code(R"({"op":"typing","id":1,"room":"r","active":1})") == api::errc::invalid_request);
  CAF_CHECK(code(R"({"op":"read","id":1,"room":"r"})") == api::errc::invalid_request);
  CAF_CHECK(code(R"({"op":"presence","id":1,"status":"asleep"})") == api::errc::invalid_request);
  CAF_CHECK(code(R"({"op":"watch","id":1,"users":["a","b","c"]})") == api::errc::too_large);
  CAF_CHECK(code(R"({"op":"watch","id":1,"users":["a",2]})") == api::errc::invalid_request);
}

CAF_TEST(client_msg_id is required over WebSocket and optional over HTTP) {
  auto body = nlohmann::json::parse(R"({"body":"hi"})");
  auto ws = wire::decode_send(body, api::room_id{"r"}, {10, true});
  auto http = wire::decode_send(body, api::room_id{"r"}, {10, false});
  CAF_CHECK(!ws && code_of(ws.error()) == api::errc::invalid_request);
  CAF_REQUIRE(http);
  CAF_CHECK(http->client_msg_id.empty() && http->body == "hi");
  auto long_id = nlohmann::json{{"body", "hi"}, {"client_msg_id", std::string(129, 'x')}};
  CAF_CHECK(!wire::decode_send(long_id, api::room_id{"r"}, {10, false}));
}

CAF_TEST(replies have the contract shape) {
  api::send_ack ack{api::room_id{"r_1"}, 4, "m_1", 99, ""};
  CAF_CHECK_EQUAL(wire::send_ack_json(ack), R"({"msg_id":"m_1","room":"r_1","seq":4,"ts":99})");
  CAF_CHECK_EQUAL(wire::read_reply_json(api::room_id{"r_1"}, 3, 10), R"({"last_read":3,"room":"r_1","unread":7})");
  CAF_CHECK_EQUAL(wire::watch_reply_json({{"bob", R"({"status":"online"})"}}),
                  R"({"presence":{"bob":{"status":"online"}}})");
  CAF_CHECK_EQUAL(wire::history_page_json({{"{}", "{}"}, true}), R"({"messages":[{},{}],"has_more":true})");
}

CAF_TEST(a history query has the rules of the history frame) {
  auto q = [](std::map<std::string, std::string> query) {
    return wire::decode_history_query(query, api::room_id{"r"}, 200);
  };
  auto page = q({{"before", "9"}});
  CAF_REQUIRE(page);
  CAF_CHECK(page->has_before && page->before == 9 && !page->has_after && page->limit == 50);
  CAF_CHECK(q({{"limit", "200"}, {"after", "0"}}) && q({{"limit", "200"}, {"after", "0"}})->has_after);
  for (auto bad : {"0", "201", "-1", "1x", "", "99999999999999999999"}) {
    auto r = q({{"limit", bad}});
    CAF_CHECK(!r && code_of(r.error()) == api::errc::invalid_request);
  }
  auto named = q({{"after", "x"}});
  CAF_REQUIRE(!named);
  CAF_CHECK_EQUAL(api::describe(named.error()).message, "after must be a non-negative integer");
}
