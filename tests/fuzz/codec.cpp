// libFuzzer target: a client frame through the wire codec, as the session
// reads it (actors/session.cpp handle_frame and do_*), for every op, then
// every reply the session could answer with, encoded and decoded again.
//
// The session's per-op validation calls the wire:: field readers in between
// actor requests, so there is no decoder to call on its own; this target
// calls the same readers with the same fields and checks the property the
// session's dereferences rely on (a required field that is absent always
// leaves an error), and that every encoder's output parses back to what went in.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "api/errors.hpp"
#include "config/options.hpp"
#include "tests/fuzz/check.hpp"
#include "wire/codec.hpp"
#include "wire/commands.hpp"
#include "wire/tokens.hpp"

namespace {

using confab::wire::json;
namespace api = confab::api;
namespace wire = confab::wire;

const confab::config::limits lim;

// wire::string_field, and what it promises.
std::optional<std::string> str(const json& req, const char* key, bool required, std::string& error) {
  bool had_error = !error.empty();
  auto v = wire::string_field(req, key, required, error);
  auto it = req.find(key);
  bool present = it != req.end() && !it->is_null();
  if (v) {
    CHECK(present && it->is_string() && *v == it->get<std::string>());
    CHECK(had_error == !error.empty());
  } else {
    CHECK(!present || !it->is_string());
    if (required || present)
      CHECK(!error.empty());
  }
  return v;
}

// wire::seq_field, and what it promises.
std::optional<std::uint64_t> seq(const json& req, const char* key, std::string& error) {
  bool had_error = !error.empty();
  auto v = wire::seq_field(req, key, error);
  auto it = req.find(key);
  bool present = it != req.end() && !it->is_null();
  if (v) {
    CHECK(present && it->is_number_integer() && it->get<std::uint64_t>() == *v);
    CHECK(!(it->is_number_integer() && !it->is_number_unsigned() && it->get<std::int64_t>() < 0));
    CHECK(had_error == !error.empty());
  } else if (present) {
    CHECK(!error.empty());
  }
  return v;
}

// The error reply of a request, decoded: what the client reads.
void check_error_reply(const std::string& id, api::errc code, const std::string& message, std::uint64_t retry) {
  auto text = wire::error_reply(id, {code, message, retry});
  auto j = json::parse(text);
  CHECK(j.at("op") == "error");
  CHECK(j.at("code") == std::string(api::code_name(code)));
  CHECK(j.at("message") == message);
  CHECK(j.at("id") == json::parse(id));
  CHECK(retry == 0 ? !j.contains("retry_after_ms") : j.at("retry_after_ms") == retry);
  auto h = json::parse(wire::http_error({code, message, retry}));
  CHECK(h.at("error").at("code") == j.at("code") && h.at("error").at("message") == message);
}

void check_ok_reply(const std::string& id, const json& data) {
  auto j = json::parse(wire::ok_reply(id, data.dump()));
  CHECK(j.size() == 3 && j.at("op") == "ok" && j.at("id") == json::parse(id) && j.at("data") == data);
}

// The ops of PROTOCOL.md section 3, in the order of api::client_command.
const char* const known_ops[] = {"auth",   "send", "history",  "join",  "leave",
                                 "typing", "read", "presence", "watch", "ping"};

// An error of the request, as the session would answer it: false when none.
bool invalid(const std::string& id, const std::string& error) {
  if (error.empty())
    return false;
  check_error_reply(id, api::errc::invalid_request, error, 0);
  return true;
}

std::string text_or(const json& req, const char* key) {
  auto it = req.find(key);
  return it != req.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// send: wire::decode_send (as the session and the HTTP frontend call it)
// against the rules of PROTOCOL.md written out again here, then the message
// the room would store and fan out, and a history page of it, decoded again.
void op_send(const std::string& id, const json& req, std::uint64_t number) {
  std::string error;
  auto room = str(req, "room", true, error);
  if (invalid(id, error))
    return;
  auto body = str(req, "body", false, error);
  auto cmid = str(req, "client_msg_id", true, error);
  auto reply_to = seq(req, "reply_to", error);
  auto file_id = error.empty() ? str(req, "file_id", false, error) : std::nullopt;
  auto ws = wire::decode_send(req, api::room_id{*room}, {lim.max_body_chars, true});
  auto http = wire::decode_send(req, api::room_id{*room}, {lim.max_body_chars, false});
  auto code = [](const caf::expected<api::send_command>& c) {
    return c ? api::errc{} : static_cast<api::errc>(c.error().code());
  };
  // Without client_msg_id, HTTP decides as WebSocket would with one.
  if (!cmid && error == "missing field client_msg_id")
    CHECK(!ws && code(ws) == api::errc::invalid_request);
  else
    CHECK(static_cast<bool>(ws) == static_cast<bool>(http) && code(ws) == code(http));
  if (invalid(id, error)) {
    CHECK(!ws && code(ws) == api::errc::invalid_request);
    return;
  }
  CHECK(room && cmid);
  if (cmid->empty() || cmid->size() > 128 || (file_id && file_id->empty())) {
    CHECK(!ws && code(ws) == api::errc::invalid_request);
    return check_error_reply(id, api::errc::invalid_request, "bad send", 0);
  }
  // e2ee (section 7): an object with non-empty string alg and sender_device
  // and a non-empty object ciphertexts of strings; never with a body; at
  // most 48 KiB as JSON.
  auto e = req.find("e2ee");
  std::string e2ee;
  if (e != req.end() && !e->is_null()) {
    auto member = [&](const char* k) { return e->is_object() && e->contains(k) ? &e->at(k) : nullptr; };
    auto nonempty = [&](const char* k) {
      auto* m = member(k);
      return m && m->is_string() && !m->get<std::string>().empty();
    };
    auto* ct = member("ciphertexts");
    bool shape = nonempty("alg") && nonempty("sender_device") && ct && ct->is_object() && !ct->empty();
    if (shape)
      for (auto& [k, w] : ct->items())
        shape = shape && !k.empty() && w.is_string();
    auto expected = !shape                                    ? api::errc::invalid_request
                    : e->dump().size() > wire::max_e2ee_bytes ? api::errc::too_large
                    : body                                    ? api::errc::invalid_request
                                                              : api::errc{};
    if (expected != api::errc{}) {
      CHECK(!ws && code(ws) == expected);
      return;
    }
    e2ee = e->dump();
  }
  if ((!body || body->empty()) && !file_id && e2ee.empty()) {
    CHECK(!ws && code(ws) == api::errc::invalid_request);
    return check_error_reply(id, api::errc::invalid_request, "bad send", 0);
  }
  if (body && wire::code_points(*body) > lim.max_body_chars) {
    CHECK(!ws && code(ws) == api::errc::too_large);
    return check_error_reply(id, api::errc::too_large, "body is over the limit", 0);
  }
  CHECK(ws && ws->room.value == *room && ws->body == body.value_or("") && ws->client_msg_id == *cmid);
  CHECK(ws->reply_to == reply_to.value_or(0) && ws->file_id == file_id.value_or("") && ws->e2ee == e2ee);

  api::file_info f;
  f.id = file_id.value_or("");
  f.name = text_or(req, "name");
  f.size = number;
  f.content_type = text_or(req, "content_type");
  f.sha256 = text_or(req, "sha256");
  f.width = static_cast<std::uint32_t>(number);
  f.height = static_cast<std::uint32_t>(number >> 32);
  f.thumbnail = (number & 1) != 0;
  wire::message_fields m{api::room_id{*room},
                         number,
                         *cmid + "-msg",
                         text_or(req, "from"),
                         static_cast<std::int64_t>(number),
                         body.value_or(""),
                         *cmid,
                         reply_to.value_or(0),
                         file_id ? wire::attachment_json(f).dump() : std::string(),
                         e2ee};
  auto text = wire::message_json(m);
  auto j = json::parse(text);
  CHECK(j.at("room") == *room && j.at("seq") == number && j.at("msg_id") == m.msg_id && j.at("from") == m.from);
  CHECK(j.at("ts") == m.ts && j.at("client_msg_id") == *cmid);
  CHECK(e2ee.empty() ? j.at("body") == m.body : !j.contains("body") && j.at("e2ee") == json::parse(e2ee));
  CHECK(m.reply_to == 0 ? !j.contains("reply_to") : j.at("reply_to") == m.reply_to);
  if (file_id) {
    auto& a = j.at("file");
    CHECK(a.at("id") == f.id && a.at("name") == f.name && a.at("size") == f.size &&
          a.at("content_type") == f.content_type);
    auto full = wire::file_json(f);
    CHECK(full.at("sha256") == f.sha256 && full.contains("thumbnail") == f.thumbnail);
    CHECK(!f.thumbnail || (full.at("width") == f.width && full.at("height") == f.height));
  } else {
    CHECK(!j.contains("file"));
  }
  auto page = json::parse(wire::history_page_json({{text, text}, (number & 2) != 0}));
  CHECK(page.at("messages").size() == 2 && page["messages"][0] == j && page["messages"][1] == j);
  CHECK(page.at("has_more") == ((number & 2) != 0));
  check_ok_reply(id, json{{"room", *room}, {"seq", number}, {"msg_id", m.msg_id}, {"ts", m.ts}});
  auto ev = json::parse(wire::event("message", text));
  CHECK(ev.at("op") == "message" && ev.at("data") == j);
  CHECK(*wire::shared_event("message", text) == wire::event("message", text));
}

void op_history(const std::string& id, const json& req) {
  std::string error;
  auto room = str(req, "room", true, error);
  if (invalid(id, error))
    return;
  seq(req, "before", error);
  seq(req, "after", error);
  auto limit = seq(req, "limit", error);
  if (invalid(id, error))
    return;
  if (limit && (*limit < 1 || *limit > lim.history_max))
    return check_error_reply(id, api::errc::invalid_request, "limit", 0);
  CHECK(static_cast<std::uint32_t>(limit.value_or(50)) == limit.value_or(50));
  check_ok_reply(id, json{{"messages", json::array()}, {"has_more", false}});
}

// join, leave, typing: a room; the answer carries the room's JSON.
void op_room(const std::string& id, const json& req, bool typing) {
  std::string error;
  auto room = str(req, "room", true, error);
  if (invalid(id, error))
    return;
  CHECK(room.has_value());
  if (typing) {
    auto active = req.find("active");
    if (active == req.end() || !active->is_boolean())
      return check_error_reply(id, api::errc::invalid_request, "active must be true or false", 0);
  }
  api::room_info info{api::room_id{*room}, text_or(req, "name"), text_or(req, "topic"), "public", "room", 1, {}};
  auto j = wire::room_json(info);
  CHECK(j.at("id") == *room && j.at("name") == info.name && j.at("topic") == info.topic);
  check_ok_reply(id, json{{"room", j}});
  api::my_room mine{info, 7, 9, {}};
  CHECK(wire::my_room_json(mine).at("unread") == 0 && wire::room_counters_json(mine).at("room") == *room);
}

void op_read(const std::string& id, const json& req) {
  std::string error;
  auto room = str(req, "room", true, error);
  if (invalid(id, error))
    return;
  auto s = seq(req, "seq", error);
  if (!s && error.empty())
    error = "missing field seq";
  if (invalid(id, error))
    return;
  CHECK(s.has_value());
  check_ok_reply(id, json{{"room", *room}, {"last_read", *s}, {"unread", 0}});
}

void op_presence(const std::string& id, const json& req) {
  std::string error;
  auto status = str(req, "status", true, error);
  if (invalid(id, error))
    return;
  CHECK(status.has_value());
  check_ok_reply(id, json::object());
}

void op_watch(const std::string& id, const json& req) {
  auto users = req.find("users");
  if (users == req.end() || !users->is_array())
    return check_error_reply(id, api::errc::invalid_request, "users must be an array of usernames", 0);
  if (users->size() > lim.watch_max)
    return check_error_reply(id, api::errc::too_large, "too many users", 0);
  json presence = json::object();
  for (auto& u : *users) {
    if (!u.is_string())
      return check_error_reply(id, api::errc::invalid_request, "users must be an array of usernames", 0);
    api::user_info info{api::user_id{u.get<std::string>()}, u.get<std::string>(), u.get<std::string>(), {}, {}};
    auto uj = wire::user_json(info);
    CHECK(uj.at("username") == u && !uj.contains("status_text"));
    presence[u.get<std::string>()] = json{{"status", "offline"}};
  }
  check_ok_reply(id, json{{"presence", presence}});
}

void op_auth(const std::string& id, const json& req) {
  std::string error;
  if (!str(req, "token", true, error))
    return check_error_reply(id, api::errc::unauthorized, "auth needs a token", 0);
  check_ok_reply(id, json{{"user", json::object()}, {"session", "s_1"}, {"rooms", json::array()}});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  // is_utf8 agrees with nlohmann's own check (dump throws on invalid UTF-8),
  // and a frame that is not UTF-8 is never JSON.
  bool utf8 = wire::is_utf8(text);
  bool dumps = true;
  try {
    (void)json(std::string(text)).dump();
  } catch (const json::type_error&) {
    dumps = false;
  }
  CHECK(utf8 == dumps);
  CHECK(wire::code_points(text) <= text.size());
  if (utf8) {
    std::size_t ascii = 0;
    for (unsigned char c : text)
      ascii += c < 0x80;
    CHECK(wire::code_points(text) >= ascii && wire::code_points(text) * 4 >= text.size());
  }

  // A token payload (after its signature checked): what decodes encodes back
  // to the same claims.
  if (auto c = wire::decode_token_payload(text)) {
    CHECK(c->expires_at % 1000 == 0);
    auto again = wire::decode_token_payload(wire::token_payload_json(*c));
    CHECK(again && again->who.id == c->who.id && again->who.username == c->who.username && again->jti == c->jti &&
          again->issued_at == c->issued_at && again->expires_at == c->expires_at);
  }

  json req;
  auto status = wire::parse_object(text, req);
  // nlohmann stops at a NUL byte: parse_object refuses every text with one.
  bool nul = text.find('\0') != std::string_view::npos;
  CHECK(status == (nul || !json::accept(text) ? wire::parse_status::not_json
                   : req.is_object()          ? wire::parse_status::ok
                                              : wire::parse_status::not_object));
  CHECK(utf8 || status == wire::parse_status::not_json);
  // The session's decoder (wire::decode_frame) on the same text.
  auto frame = wire::decode_frame(text, {lim.max_body_chars, lim.history_max, lim.watch_max});
  CHECK(frame.status == status);
  if (status != wire::parse_status::ok)
    return 0;

  // The same object as an HTTP body: each decoder accepts it with its rules
  // met, or refuses it with invalid_request.
  auto refused = [](const caf::error& err) { return api::describe(err).code == api::errc::invalid_request; };
  if (auto r = wire::decode_register(req); !r)
    CHECK(refused(r.error()));
  if (auto r = wire::decode_login(req); !r)
    CHECK(refused(r.error()));
  if (auto r = wire::decode_password_change(req); !r)
    CHECK(refused(r.error()));
  if (auto r = wire::decode_username(req); !r)
    CHECK(refused(r.error()));
  if (auto r = wire::decode_dm(req); !r)
    CHECK(refused(r.error()));
  if (auto p = wire::decode_profile_patch(req); !p)
    CHECK(refused(p.error()));
  else if (p->set_display_name)
    CHECK(wire::code_points(p->display_name) >= 1 && wire::code_points(p->display_name) <= 64);
  if (auto c = wire::decode_create_room(req); !c) {
    CHECK(refused(c.error()));
  } else {
    CHECK(wire::code_points(c->name) >= 1 && wire::code_points(c->name) <= 100);
    CHECK(c->visibility == "public" || c->visibility == "private");
    CHECK(!c->encrypted || c->visibility == "private");
  }

  // handle_frame: the id (a number or a string, echoed as JSON text), the op.
  auto id_it = req.find("id");
  bool id_ok = id_it != req.end() && (id_it->is_number() || id_it->is_string());
  std::string id = id_ok ? id_it->dump() : "null";
  CHECK(json::parse(id) == (id_ok ? *id_it : json()));
  auto op_it = req.find("op");
  std::string op = op_it != req.end() && op_it->is_string() ? op_it->get<std::string>() : "";
  CHECK(frame.id == id && frame.id_ok == id_ok && frame.op == op);
  if (frame.command) {
    CHECK(op == known_ops[frame.command->index()]);  // the variant's order
  } else {
    auto code = static_cast<api::errc>(frame.command.error().code());
    CHECK(code == api::errc::invalid_request || code == api::errc::too_large || code == api::errc::unknown_op ||
          code == api::errc::unauthorized);
    CHECK((code == api::errc::unknown_op) ==
          (std::find(std::begin(known_ops), std::end(known_ops), op) == std::end(known_ops)));
    CHECK((code == api::errc::unauthorized) == (op == "auth"));
  }
  check_error_reply(id, api::errc::rate_limited, "too many requests", 1 + size);
  check_error_reply(id, api::errc::unknown_op, op, 0);

  // Every op's validation on every frame: a frame of one op is a frame of
  // another with the wrong fields.
  std::uint64_t number = 0;
  for (std::size_t i = 0; i < size && i < 8; ++i)
    number = (number << 8) | data[size - 1 - i];
  op_auth(id, req);
  op_send(id, req, number);
  op_history(id, req);
  op_room(id, req, false);
  op_room(id, req, true);
  op_read(id, req);
  op_presence(id, req);
  op_watch(id, req);
  check_ok_reply(id, json::object());  // ping
  return 0;
}
