#include "wire/commands.hpp"

#include <optional>

#include <sodium.h>

#include "wire/events.hpp"

namespace confab::wire {

using api::errc;
using api::fail;

namespace {

// The e2ee object of a send: its shape (PROTOCOL.md section 7), as compact
// JSON text; the rest of it is the clients' and passes unread.
caf::expected<std::string> e2ee_text(const json& e) {
  auto invalid_e2ee = [](const char* why) { return fail(errc::invalid_request, std::string("e2ee ") + why); };
  if (!e.is_object())
    return invalid_e2ee("must be an object");
  for (const char* key : {"alg", "sender_device"}) {
    auto it = e.find(key);
    if (it == e.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
      return invalid_e2ee("needs alg and sender_device, non-empty strings");
  }
  auto c = e.find("ciphertexts");
  if (c == e.end() || !c->is_object() || c->empty())
    return invalid_e2ee("needs ciphertexts, an object with one entry per device");
  for (auto& [device, wrapped] : c->items())
    if (device.empty() || !wrapped.is_string())
      return invalid_e2ee("ciphertexts maps <username>:<device_id> to base64 strings");
  auto text = e.dump();
  if (text.size() > max_e2ee_bytes)
    return fail(errc::too_large, "e2ee is over 48 KiB");
  return text;
}

// The e2ee member of a send or an edit as compact JSON text, empty when it
// is absent; invalid_request when the command also has a body.
caf::expected<std::string> e2ee_of(const json& obj, bool has_body) {
  auto e = obj.find("e2ee");
  if (e == obj.end() || e->is_null())
    return std::string{};
  auto text = e2ee_text(*e);
  if (text && has_body)
    return fail(errc::invalid_request, "a message has body or e2ee, not both");
  return text;
}

}  // namespace

caf::expected<api::edit_command> decode_edit(const json& obj, api::room_id room, api::seq_t seq,
                                             std::size_t max_body_chars) {
  std::string error;
  auto body = string_field(obj, "body", false, error);
  if (!error.empty())
    return fail(errc::invalid_request, error);
  auto e2ee = e2ee_of(obj, body.has_value());
  if (!e2ee)
    return e2ee.error();
  api::edit_command out{std::move(room), seq, body.value_or(""), std::move(*e2ee)};
  if (out.body.empty() && out.e2ee.empty())
    return fail(errc::invalid_request, "body must not be empty");
  if (code_points(out.body) > max_body_chars)
    return fail(errc::too_large, "body is over the limit");
  return out;
}

caf::expected<api::react_command> react_of(api::room_id room, api::seq_t seq, std::string emoji, bool active) {
  if (emoji.empty() || emoji.size() > 32 || !is_utf8(emoji))
    return fail(errc::invalid_request, "emoji must be 1-32 bytes of UTF-8");
  return api::react_command{std::move(room), seq, std::move(emoji), active};
}

caf::expected<api::send_command> decode_send(const json& obj, api::room_id room, const send_rules& rules) {
  std::string error;
  auto body = string_field(obj, "body", false, error);
  auto cmid = string_field(obj, "client_msg_id", rules.client_msg_id_required, error);
  auto reply_to = seq_field(obj, "reply_to", error);
  auto thread = seq_field(obj, "thread", error);
  auto file_id = error.empty() ? string_field(obj, "file_id", false, error) : std::nullopt;
  if (!error.empty())
    return fail(errc::invalid_request, error);
  if (cmid && (cmid->empty() || cmid->size() > 128))
    return fail(errc::invalid_request, "client_msg_id must have 1-128 characters");
  if (file_id && file_id->empty())
    return fail(errc::invalid_request, "file_id must not be empty");
  if (thread && *thread == 0)
    return fail(errc::invalid_request, "thread must be the seq of a message of the room");
  auto e2ee = e2ee_of(obj, body.has_value());
  if (!e2ee)
    return e2ee.error();
  if ((!body || body->empty()) && !file_id && e2ee->empty())
    return fail(errc::invalid_request, "body must not be empty");
  if (body && code_points(*body) > rules.max_body_chars)
    return fail(errc::too_large, "body is over the limit");
  return api::send_command{std::move(room),    body.value_or(""),    cmid.value_or(""), reply_to.value_or(0),
                           thread.value_or(0), file_id.value_or(""), std::move(*e2ee)};
}

namespace {

caf::error invalid(const std::string& why) {
  return fail(errc::invalid_request, why);
}

caf::expected<api::room_id> room_of(const json& obj) {
  std::string error;
  auto room = string_field(obj, "room", true, error);
  if (!room)
    return invalid(error);
  return api::room_id{*room};
}

caf::expected<api::client_command> decode_auth(const json& obj) {
  std::string error;
  auto token = string_field(obj, "token", true, error);
  if (!token)
    return fail(errc::unauthorized, "auth needs a token");
  return api::auth_command{std::move(*token)};
}

// The rules of a history request once its numbers are read, whichever
// transport they came in: limit 1 to history_max, 50 when absent.
caf::expected<api::history_command> history_of(api::room_id room, std::optional<std::uint64_t> before,
                                               std::optional<std::uint64_t> after, std::optional<std::uint64_t> limit,
                                               std::uint64_t history_max) {
  if (limit && (*limit < 1 || *limit > history_max))
    return invalid("limit must be 1-" + std::to_string(history_max));
  return api::history_command{std::move(room),   before.has_value(), before.value_or(0),
                              after.has_value(), after.value_or(0),  static_cast<std::uint32_t>(limit.value_or(50))};
}

caf::expected<api::client_command> decode_history(const json& obj, api::room_id room, std::uint64_t history_max) {
  std::string error;
  auto before = seq_field(obj, "before", error);
  auto after = seq_field(obj, "after", error);
  auto limit = seq_field(obj, "limit", error);
  if (!error.empty())
    return invalid(error);
  auto cmd = history_of(std::move(room), before, after, limit, history_max);
  if (!cmd)
    return cmd.error();
  return std::move(*cmd);
}

caf::expected<api::client_command> decode_typing(const json& obj, api::room_id room) {
  auto active = obj.find("active");
  if (active == obj.end() || !active->is_boolean())
    return invalid("active must be true or false");
  return api::typing_command{std::move(room), active->get<bool>()};
}

caf::expected<api::client_command> decode_read(const json& obj, api::room_id room) {
  std::string error;
  auto seq = seq_field(obj, "seq", error);
  if (!seq && error.empty())
    error = "missing field seq";
  if (!error.empty())
    return invalid(error);
  return api::read_command{std::move(room), *seq};
}

caf::expected<api::client_command> decode_presence(const json& obj) {
  std::string error;
  auto status = string_field(obj, "status", true, error);
  if (!status)
    return invalid(error);
  if (*status != "online" && *status != "away" && *status != "dnd")
    return invalid("status must be online, away or dnd");
  return api::presence_command{std::move(*status)};
}

caf::expected<api::client_command> decode_watch(const json& obj, std::size_t watch_max) {
  auto users = obj.find("users");
  if (users == obj.end() || !users->is_array())
    return invalid("users must be an array of usernames");
  if (users->size() > watch_max)
    return fail(errc::too_large, "at most " + std::to_string(watch_max) + " users");
  api::watch_command out;
  for (auto& u : *users) {
    if (!u.is_string())
      return invalid("users must be an array of usernames");
    out.users.push_back(u.get<std::string>());
  }
  return out;
}

// The command of a frame whose op is known (the room, where the op has one,
// is read first, as every room op reports a missing room before anything).
caf::expected<api::client_command> decode_op(const std::string& op, const json& obj, const frame_rules& rules) {
  if (op == "auth")
    return decode_auth(obj);
  if (op == "ping")
    return api::ping_command{};
  if (op == "presence")
    return decode_presence(obj);
  if (op == "watch")
    return decode_watch(obj, rules.watch_max);
  bool room_op = op == "send" || op == "history" || op == "join" || op == "leave" || op == "typing" || op == "read" ||
                 op == "edit" || op == "delete" || op == "react";
  if (!room_op)
    return fail(errc::unknown_op, "unknown op");
  auto room = room_of(obj);
  if (!room)
    return room.error();
  if (op == "send") {
    auto cmd = decode_send(obj, std::move(*room), {rules.max_body_chars, true});
    if (!cmd)
      return cmd.error();
    return std::move(*cmd);
  }
  if (op == "history")
    return decode_history(obj, std::move(*room), rules.history_max);
  if (op == "join")
    return api::join_command{std::move(*room)};
  if (op == "leave")
    return api::leave_command{std::move(*room)};
  if (op == "typing")
    return decode_typing(obj, std::move(*room));
  if (op == "edit" || op == "delete" || op == "react") {
    std::string error;
    auto seq = seq_field(obj, "seq", error);
    if (error.empty() && (!seq || *seq == 0))
      error = "seq must be a message's seq (1 or more)";
    if (!error.empty())
      return invalid(error);
    if (op == "delete")
      return api::delete_command{std::move(*room), *seq};
    if (op == "react") {
      auto emoji = string_field(obj, "emoji", true, error);
      auto active = obj.find("active");
      if (!emoji)
        return invalid(error);
      if (active == obj.end() || !active->is_boolean())
        return invalid("active must be true or false");
      auto cmd = react_of(std::move(*room), *seq, std::move(*emoji), active->get<bool>());
      if (!cmd)
        return cmd.error();
      return std::move(*cmd);
    }
    auto cmd = decode_edit(obj, std::move(*room), *seq, rules.max_body_chars);
    if (!cmd)
      return cmd.error();
    return std::move(*cmd);
  }
  return decode_read(obj, std::move(*room));
}

}  // namespace

bool query_number(const std::map<std::string, std::string>& query, const char* key, std::optional<std::uint64_t>& out,
                  std::string& error) {
  auto it = query.find(key);
  if (it == query.end())
    return true;
  const auto& v = it->second;
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos) {
    error = std::string(key) + " must be a non-negative integer";
    return false;
  }
  out = std::stoull(v);
  return true;
}

caf::expected<api::search_request> decode_search_query(const std::map<std::string, std::string>& query) {
  api::search_request out;
  std::optional<std::uint64_t> limit;
  std::string error;
  if (!query_number(query, "limit", limit, error))
    return invalid(error);
  if (limit && (*limit < 1 || *limit > 50))
    return invalid("limit must be 1-50");
  out.limit = static_cast<std::uint32_t>(limit.value_or(20));
  auto q = query.find("q");
  if (q == query.end() || q->second.empty() || q->second.size() > 500 || !is_utf8(q->second))
    return invalid("q must be 1-500 bytes of UTF-8");
  out.q = q->second;
  for (auto [key, field] : {std::pair{"room", &out.room.value}, std::pair{"before", &out.before}}) {
    auto it = query.find(key);
    if (it == query.end())
      continue;
    if (it->second.empty() || it->second.size() > 200 || !is_utf8(it->second))
      return invalid(std::string(key) + " must be 1-200 bytes");
    *field = it->second;
  }
  return out;
}

std::string search_page_json(const std::vector<api::search_result>& hits, std::uint32_t limit) {
  std::string out = R"({"results":[)";
  for (std::size_t i = 0; i < hits.size() && i < limit; ++i) {
    if (i > 0)
      out += ',';
    out += R"({"message":)";
    out += hits[i].message;
    out += R"(,"room_name":)";
    out += json(hits[i].room_name).dump();
    out += '}';
  }
  out += ']';
  if (hits.size() > limit && limit > 0)
    out += R"(,"next":)" + json(hits[limit - 1].key).dump();
  out += '}';
  return out;
}

caf::expected<api::history_command> decode_history_query(const std::map<std::string, std::string>& query,
                                                         api::room_id room, std::uint64_t history_max) {
  std::optional<std::uint64_t> before, after, limit;
  std::string error;
  if (!query_number(query, "before", before, error) || !query_number(query, "after", after, error) ||
      !query_number(query, "limit", limit, error))
    return invalid(error);
  return history_of(std::move(room), before, after, limit, history_max);
}

decoded_frame decode_frame(std::string_view text, const frame_rules& rules) {
  decoded_frame out;
  json req;
  out.status = parse_object(text, req);
  if (out.status != parse_status::ok)
    return out;
  auto id = req.find("id");
  out.id_ok = id != req.end() && (id->is_number() || id->is_string());
  if (out.id_ok)
    out.id = id->dump();
  auto op = req.find("op");
  if (op != req.end() && op->is_string())
    out.op = op->get<std::string>();
  out.command = decode_op(out.op, req, rules);
  return out;
}

caf::expected<api::register_command> decode_register(const json& body) {
  std::string error;
  auto username = string_field(body, "username", true, error);
  auto password = string_field(body, "password", true, error);
  auto display = string_field(body, "display_name", false, error);
  if (!error.empty())
    return invalid(error);
  return api::register_command{std::move(*username), std::move(*password), display.value_or("")};
}

caf::expected<api::login_command> decode_login(const json& body) {
  std::string error;
  auto username = string_field(body, "username", true, error);
  auto password = string_field(body, "password", true, error);
  if (!error.empty())
    return invalid(error);
  return api::login_command{std::move(*username), std::move(*password)};
}

caf::expected<api::profile_patch> decode_profile_patch(const json& body) {
  api::profile_patch patch;
  std::string error;
  if (auto dn = string_field(body, "display_name", false, error)) {
    auto n = code_points(*dn);
    if (n < 1 || n > 64)
      return invalid("display_name must have 1-64 characters");
    patch.set_display_name = true;
    patch.display_name = *dn;
  }
  if (body.contains("status_text")) {
    auto st = string_field(body, "status_text", false, error);
    if (st && code_points(*st) > 140)
      return invalid("status_text must have at most 140 characters");
    patch.set_status_text = true;
    patch.status_text = st.value_or("");
  }
  if (body.contains("avatar_file_id")) {
    auto av = string_field(body, "avatar_file_id", false, error);
    if (av && av->size() > 64)
      return invalid("avatar_file_id must have at most 64 characters");
    patch.set_avatar = true;
    patch.avatar_file_id = av.value_or("");
  }
  if (!error.empty())
    return invalid(error);
  return patch;
}

caf::expected<api::password_command> decode_password_change(const json& body) {
  std::string error;
  auto old_pw = string_field(body, "old_password", true, error);
  auto new_pw = string_field(body, "new_password", true, error);
  if (!error.empty())
    return invalid(error);
  return api::password_command{std::move(*old_pw), std::move(*new_pw)};
}

caf::expected<api::create_room_command> decode_create_room(const json& body) {
  std::string error;
  auto name = string_field(body, "name", true, error);
  auto topic = string_field(body, "topic", false, error);
  auto visibility = string_field(body, "visibility", true, error);
  auto encrypted = error.empty() ? bool_field(body, "encrypted", error) : std::nullopt;
  if (!error.empty())
    return invalid(error);
  auto n = code_points(*name);
  if (n < 1 || n > 100)
    return invalid("name must have 1-100 characters");
  if (topic && code_points(*topic) > 500)
    return invalid("topic must have at most 500 characters");
  if (*visibility != "public" && *visibility != "private")
    return invalid("visibility must be public or private");
  if (encrypted.value_or(false) && *visibility != "private")
    return invalid("an encrypted room must be private");
  return api::create_room_command{std::move(*name), topic.value_or(""), std::move(*visibility),
                                  encrypted.value_or(false)};
}

caf::expected<api::dm_command> decode_dm(const json& body) {
  std::string error;
  auto username = string_field(body, "username", true, error);
  auto encrypted = error.empty() ? bool_field(body, "encrypted", error) : std::nullopt;
  if (!error.empty())
    return invalid(error);
  return api::dm_command{std::move(*username), encrypted.value_or(false)};
}

namespace {

// Standard base64 with padding (RFC 4648 section 4, libsodium's decoder)
// of exactly `bytes` bytes.
bool base64_of(const std::string& s, std::size_t bytes) {
  unsigned char out[64];
  std::size_t n = 0;
  const char* end = nullptr;
  return bytes <= sizeof(out) &&
         sodium_base642bin(out, sizeof(out), s.data(), s.size(), nullptr, &n, &end, sodium_base64_VARIANT_ORIGINAL) ==
             0 &&
         end == s.data() + s.size() && n == bytes;
}

}  // namespace

caf::expected<api::device_key> decode_device_keys(const json& body, const std::string& device_id) {
  if (device_id.empty() || device_id.size() > 64 ||
      device_id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
          std::string::npos)
    return invalid("device_id must have 1-64 letters, digits, - or _");
  std::string error;
  auto identity = string_field(body, "identity_key", true, error);
  auto signing = error.empty() ? string_field(body, "signing_key", false, error) : std::nullopt;
  auto signature = error.empty() ? string_field(body, "signature", false, error) : std::nullopt;
  if (!error.empty())
    return invalid(error);
  if (!base64_of(*identity, 32))
    return invalid("identity_key must be the base64 of 32 bytes (X25519)");
  if (signing.has_value() != signature.has_value())
    return invalid("signing_key and signature come together");
  if (signing && !base64_of(*signing, 32))
    return invalid("signing_key must be the base64 of 32 bytes (Ed25519)");
  if (signature && !base64_of(*signature, 64))
    return invalid("signature must be the base64 of 64 bytes (Ed25519)");
  return api::device_key{device_id, std::move(*identity), signing.value_or(""), signature.value_or(""), 0};
}

namespace {

json device_list(const std::vector<api::device_key>& devices) {
  auto list = json::array();
  for (auto& d : devices) {
    json j{{"device_id", d.device_id}, {"identity_key", d.identity_key}, {"updated_at", d.updated_at}};
    if (!d.signing_key.empty()) {
      j["signing_key"] = d.signing_key;
      j["signature"] = d.signature;
    }
    list.push_back(std::move(j));
  }
  return list;
}

}  // namespace

std::string devices_json(const std::vector<api::device_key>& devices) {
  return json{{"devices", device_list(devices)}}.dump();
}

std::string keys_event_json(const std::string& username, const std::vector<api::device_key>& devices) {
  return json{{"user", username}, {"devices", device_list(devices)}}.dump();
}

caf::expected<std::string> decode_username(const json& body) {
  std::string error;
  auto username = string_field(body, "username", true, error);
  if (!error.empty())
    return invalid(error);
  return std::move(*username);
}

std::string send_ack_json(const api::send_ack& ack) {
  return json{{"room", ack.room.value}, {"seq", ack.seq}, {"msg_id", ack.msg_id}, {"ts", ack.ts}}.dump();
}

std::string read_reply_json(const api::room_id& room, api::seq_t last_read, api::seq_t last_seq) {
  return json{{"room", room.value}, {"last_read", last_read}, {"unread", last_seq - last_read}}.dump();
}

std::string room_reply_json(const api::room_info& room) {
  return json{{"room", room_json(room)}}.dump();
}

std::string user_reply_json(const api::user_info& user) {
  return json{{"user", user_json(user)}}.dump();
}

std::string user_presence_json(const api::user_info& user, const std::string& presence) {
  return json{{"user", user_json(user)}, {"presence", json::parse(presence)}}.dump();
}

std::string login_reply_json(const api::login_result& r) {
  return json{{"token", r.token}, {"expires_at", r.expires_at}, {"user", user_json(r.user)}}.dump();
}

std::string my_rooms_json(const std::vector<api::my_room>& rooms) {
  json list = json::array();
  for (auto& r : rooms)
    list.push_back(my_room_json(r));
  return json{{"rooms", std::move(list)}}.dump();
}

std::string rooms_json(const std::vector<api::room_info>& rooms) {
  json list = json::array();
  for (auto& r : rooms)
    list.push_back(room_json(r));
  return json{{"rooms", std::move(list)}}.dump();
}

std::string members_json(const std::vector<api::member_entry>& members, const std::vector<std::string>& presence,
                         const std::string& next) {
  json list = json::array();
  for (std::size_t i = 0; i < members.size() && i < presence.size(); ++i)
    list.push_back(
        {{"user", user_json(members[i].user)}, {"role", members[i].role}, {"presence", json::parse(presence[i])}});
  json out{{"members", std::move(list)}};
  if (!next.empty())
    out["next"] = next;
  return out.dump();
}

std::string file_reply_json(const api::file_info& f) {
  return json{{"file", file_json(f)}}.dump();
}

std::string health_json(const std::string& node) {
  return json{{"status", "ok"}, {"node", node}}.dump();
}

std::string watch_reply_json(const std::vector<std::pair<std::string, std::string>>& presence) {
  json out = json::object();
  for (auto& [name, p] : presence)
    out[name] = json::parse(p);
  return json{{"presence", std::move(out)}}.dump();
}

std::string auth_reply_json(const api::user_info& user, const std::string& session, const std::string& node,
                            const std::vector<api::my_room>& rooms) {
  json counters = json::array();
  for (auto& r : rooms)
    counters.push_back(room_counters_json(r));
  return json{{"user", user_json(user)}, {"session", session}, {"node", node}, {"rooms", std::move(counters)}}.dump();
}

std::string history_page_json(const api::history_page& page) {
  std::vector<std::string> shown;
  shown.reserve(page.messages.size());
  for (auto& m : page.messages)
    shown.push_back(client_message(m));
  return R"({"messages":)" + join_array(shown) + R"(,"has_more":)" + (page.has_more ? "true" : "false") + "}";
}

}  // namespace confab::wire
