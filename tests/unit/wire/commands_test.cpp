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

CAF_TEST(an e2ee send is checked for shape and size and passes unread) {
  auto e2ee = nlohmann::json{{"alg", "a1"},
                             {"sender_device", "d1"},
                             {"ciphertexts", {{"ann:d1", "AAAA"}, {"bob:d2", "BBBB"}}},
                             {"payload", "CCCC"},
                             {"extra", {1, 2}}};
  auto ok = wire::decode_send(nlohmann::json{{"e2ee", e2ee}, {"client_msg_id", "c"}}, api::room_id{"r"}, {10, true});
  CAF_REQUIRE(ok);
  CAF_CHECK(ok->body.empty());
  CAF_CHECK(nlohmann::json::parse(ok->e2ee) == e2ee);
  auto refused = [](nlohmann::json obj, api::errc code) {
    obj["client_msg_id"] = "c";
    auto r = wire::decode_send(obj, api::room_id{"r"}, {10, true});
    return !r && code_of(r.error()) == code;
  };
  CAF_CHECK(refused({{"e2ee", e2ee}, {"body", "plain"}}, api::errc::invalid_request));
  CAF_CHECK(refused({{"e2ee", e2ee}, {"body", ""}}, api::errc::invalid_request));
  CAF_CHECK(refused({{"e2ee", "text"}}, api::errc::invalid_request));
  for (const char* key : {"alg", "sender_device", "ciphertexts"}) {
    auto missing = e2ee;
    missing.erase(key);
    CAF_CHECK(refused({{"e2ee", missing}}, api::errc::invalid_request));
  }
  auto bad = e2ee;
  bad["alg"] = 5;
  CAF_CHECK(refused({{"e2ee", bad}}, api::errc::invalid_request));
  bad = e2ee;
  bad["ciphertexts"] = nlohmann::json::object();
  CAF_CHECK(refused({{"e2ee", bad}}, api::errc::invalid_request));
  bad["ciphertexts"] = {{"ann:d1", 7}};
  CAF_CHECK(refused({{"e2ee", bad}}, api::errc::invalid_request));
  bad = e2ee;
  bad["payload"] = std::string(wire::max_e2ee_bytes, 'x');
  CAF_CHECK(refused({{"e2ee", bad}}, api::errc::too_large));
  bad["payload"] = std::string(wire::max_e2ee_bytes - e2ee.dump().size(), 'x');
  CAF_CHECK(wire::decode_send(nlohmann::json{{"e2ee", bad}, {"client_msg_id", "c"}}, api::room_id{"r"}, {10, true}));
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

namespace {

std::string message_of(const caf::error& err) {
  return api::describe(err).message;
}

}  // namespace

CAF_TEST(http bodies for accounts are checked field by field) {
  auto reg = wire::decode_register(wire::json::parse(R"({"username":"ann","password":"pw"})"));
  CAF_REQUIRE(reg);
  CAF_CHECK_EQUAL(reg->username, "ann");
  CAF_CHECK_EQUAL(reg->display_name, "");
  auto no_pw = wire::decode_register(wire::json::parse(R"({"username":"ann"})"));
  CAF_REQUIRE(!no_pw);
  CAF_CHECK(code_of(no_pw.error()) == api::errc::invalid_request);
  CAF_CHECK_EQUAL(message_of(no_pw.error()), "missing field password");
  auto wrong = wire::decode_login(wire::json::parse(R"({"username":5,"password":"pw"})"));
  CAF_REQUIRE(!wrong);
  CAF_CHECK_EQUAL(message_of(wrong.error()), "field username must be a string");
  auto pw = wire::decode_password_change(wire::json::parse(R"({"old_password":"a","new_password":"b"})"));
  CAF_REQUIRE(pw);
  CAF_CHECK_EQUAL(pw->new_password, "b");
  CAF_CHECK(!wire::decode_password_change(wire::json::parse(R"({"old_password":"a"})")));
  auto bob = wire::decode_username(wire::json::parse(R"({"username":"bob"})"));
  CAF_REQUIRE(bob);
  CAF_CHECK_EQUAL(*bob, "bob");
  CAF_CHECK(!wire::decode_username(wire::json::parse(R"({})")));
}

CAF_TEST(a profile patch changes only the fields present and null clears) {
  auto p = wire::decode_profile_patch(wire::json::parse(R"({"status_text":null})"));
  CAF_REQUIRE(p);
  CAF_CHECK(!p->set_display_name);
  CAF_CHECK(p->set_status_text);
  CAF_CHECK_EQUAL(p->status_text, "");
  CAF_CHECK(!p->set_avatar);
  auto empty_name = wire::decode_profile_patch(wire::json::parse(R"({"display_name":""})"));
  CAF_REQUIRE(!empty_name);
  CAF_CHECK_EQUAL(message_of(empty_name.error()), "display_name must have 1-64 characters");
  auto long_status =
      wire::decode_profile_patch(wire::json::parse("{\"status_text\":\"" + std::string(141, 'x') + "\"}"));
  CAF_REQUIRE(!long_status);
  CAF_CHECK_EQUAL(message_of(long_status.error()), "status_text must have at most 140 characters");
  auto long_avatar =
      wire::decode_profile_patch(wire::json::parse("{\"avatar_file_id\":\"" + std::string(65, 'f') + "\"}"));
  CAF_CHECK(!long_avatar);
  auto typed = wire::decode_profile_patch(wire::json::parse(R"({"display_name":5})"));
  CAF_REQUIRE(!typed);
  CAF_CHECK_EQUAL(message_of(typed.error()), "field display_name must be a string");
}

CAF_TEST(a new room needs a name of 1 to 100 characters and a known visibility) {
  auto ok = wire::decode_create_room(wire::json::parse(R"({"name":"général","visibility":"private"})"));
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->topic, "");
  CAF_CHECK_EQUAL(ok->visibility, "private");
  auto long_name = wire::decode_create_room(
      wire::json::parse("{\"name\":\"" + std::string(101, 'n') + "\",\"visibility\":\"public\"}"));
  CAF_REQUIRE(!long_name);
  CAF_CHECK_EQUAL(message_of(long_name.error()), "name must have 1-100 characters");
  auto bad_vis = wire::decode_create_room(wire::json::parse(R"({"name":"a","visibility":"secret"})"));
  CAF_REQUIRE(!bad_vis);
  CAF_CHECK_EQUAL(message_of(bad_vis.error()), "visibility must be public or private");
  auto long_topic = wire::decode_create_room(
      wire::json::parse("{\"name\":\"a\",\"visibility\":\"public\",\"topic\":\"" + std::string(501, 't') + "\"}"));
  CAF_CHECK(!long_topic);
  CAF_CHECK(!ok->encrypted);
  auto sealed = wire::decode_create_room(wire::json::parse(R"({"name":"a","visibility":"private","encrypted":true})"));
  CAF_REQUIRE(sealed);
  CAF_CHECK(sealed->encrypted);
  auto open_sealed =
      wire::decode_create_room(wire::json::parse(R"({"name":"a","visibility":"public","encrypted":true})"));
  CAF_REQUIRE(!open_sealed);
  CAF_CHECK_EQUAL(message_of(open_sealed.error()), "an encrypted room must be private");
  auto not_bool = wire::decode_create_room(wire::json::parse(R"({"name":"a","visibility":"private","encrypted":1})"));
  CAF_REQUIRE(!not_bool);
  CAF_CHECK_EQUAL(message_of(not_bool.error()), "field encrypted must be true or false");
  auto dm = wire::decode_dm(wire::json::parse(R"({"username":"bob","encrypted":true})"));
  CAF_REQUIRE(dm);
  CAF_CHECK_EQUAL(dm->username, "bob");
  CAF_CHECK(dm->encrypted);
  CAF_CHECK(!wire::decode_dm(wire::json::parse(R"({"username":"bob","encrypted":"no"})")));
  CAF_CHECK(!wire::decode_dm(wire::json::parse(R"({"encrypted":true})")));
}

CAF_TEST(http replies have the contract shape) {
  api::user_info ann{api::user_id{"u_1"}, "ann", "Ann", "", ""};
  CAF_CHECK_EQUAL(wire::health_json("n1"), R"({"node":"n1","status":"ok"})");
  auto members = wire::json::parse(wire::members_json({{ann, "owner"}}, {R"({"status":"online"})"}))["members"];
  CAF_REQUIRE_EQUAL(members.size(), 1u);
  CAF_CHECK_EQUAL(members[0]["role"].get<std::string>(), "owner");
  CAF_CHECK_EQUAL(members[0]["presence"]["status"].get<std::string>(), "online");
  CAF_CHECK_EQUAL(members[0]["user"]["username"].get<std::string>(), "ann");
  auto login = wire::json::parse(wire::login_reply_json({"tok", 99, ann}));
  CAF_CHECK_EQUAL(login["token"].get<std::string>(), "tok");
  CAF_CHECK_EQUAL(login["expires_at"].get<std::int64_t>(), 99);
  CAF_CHECK(wire::json::parse(wire::rooms_json({}))["rooms"].is_array());
}
