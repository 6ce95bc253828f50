#include "wire/codec.hpp"

namespace confab::wire {

json user_json(const api::user_info& u) {
  json j{{"id", u.id.value}, {"username", u.username}, {"display_name", u.display_name}};
  if (!u.status_text.empty())
    j["status_text"] = u.status_text;
  if (!u.avatar_file_id.empty())
    j["avatar_file_id"] = u.avatar_file_id;
  return j;
}

json room_json(const api::room_info& r) {
  return json{{"id", r.id.value}, {"name", r.name},           {"topic", r.topic},          {"visibility", r.visibility},
              {"kind", r.kind},   {"encrypted", r.encrypted}, {"created_at", r.created_at}};
}

json my_room_json(const api::my_room& r) {
  auto j = room_json(r.room);
  j["last_seq"] = r.last_seq;
  j["last_read"] = r.last_read;
  j["unread"] = r.last_seq > r.last_read ? r.last_seq - r.last_read : 0;
  return j;
}

json room_counters_json(const api::my_room& r) {
  return json{{"room", r.room.id.value},
              {"last_seq", r.last_seq},
              {"last_read", r.last_read},
              {"unread", r.last_seq > r.last_read ? r.last_seq - r.last_read : 0}};
}

json file_json(const api::file_info& f) {
  json j{{"id", f.id}, {"name", f.name}, {"size", f.size}, {"content_type", f.content_type}, {"sha256", f.sha256}};
  if (f.thumbnail) {
    j["width"] = f.width;
    j["height"] = f.height;
    j["thumbnail"] = true;
  }
  if (f.encrypted)
    j["encrypted"] = true;
  return j;
}

json attachment_json(const api::file_info& f) {
  json j{{"id", f.id}, {"name", f.name}, {"size", f.size}, {"content_type", f.content_type}};
  if (f.encrypted)
    j["encrypted"] = true;
  return j;
}

std::string message_json(const message_fields& m) {
  json j{{"room", m.room.value}, {"seq", m.seq}, {"msg_id", m.msg_id}, {"from", m.from}, {"ts", m.ts}};
  if (m.e2ee.empty())
    j["body"] = m.body;
  else
    j["e2ee"] = json::parse(m.e2ee);
  if (!m.client_msg_id.empty())
    j["client_msg_id"] = m.client_msg_id;
  if (m.reply_to != 0)
    j["reply_to"] = m.reply_to;
  if (m.thread != 0)
    j["thread"] = m.thread;
  if (!m.file.empty())
    j["file"] = json::parse(m.file);
  return j.dump();
}

std::string event(std::string_view op, std::string_view data_json) {
  std::string out;
  out.reserve(op.size() + data_json.size() + 20);
  out.append(R"({"op":")").append(op).append(R"(","data":)").append(data_json).push_back('}');
  return out;
}

api::shared_text shared_event(std::string_view op, std::string_view data_json) {
  return std::make_shared<const std::string>(event(op, data_json));
}

std::string ok_reply(std::string_view id_json, std::string_view data_json) {
  std::string out;
  out.reserve(id_json.size() + data_json.size() + 30);
  out.append(R"({"op":"ok","id":)").append(id_json).append(R"(,"data":)").append(data_json).push_back('}');
  return out;
}

std::string error_reply(std::string_view id_json, const api::failure& f) {
  json j{{"op", "error"}, {"code", api::code_name(f.code)}, {"message", f.message}};
  j["id"] = json::parse(id_json.empty() ? std::string_view{"null"} : id_json);
  if (f.retry_after_ms > 0)
    j["retry_after_ms"] = f.retry_after_ms;
  return j.dump();
}

std::string http_error(const api::failure& f) {
  json e{{"code", api::code_name(f.code)}, {"message", f.message}};
  if (f.retry_after_ms > 0)
    e["retry_after_ms"] = f.retry_after_ms;
  return json{{"error", e}}.dump();
}

std::string join_array(const std::vector<std::string>& elements) {
  std::size_t n = 2;
  for (auto& e : elements)
    n += e.size() + 1;
  std::string out;
  out.reserve(n);
  out.push_back('[');
  for (std::size_t i = 0; i < elements.size(); ++i) {
    if (i > 0)
      out.push_back(',');
    out.append(elements[i]);
  }
  out.push_back(']');
  return out;
}

std::size_t code_points(std::string_view utf8) {
  std::size_t n = 0;
  for (auto c : utf8)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80)
      ++n;
  return n;
}

bool is_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > text.size())
      return false;
    std::uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (std::size_t k = 1; k < len; ++k) {
      auto b = static_cast<unsigned char>(text[i + k]);
      if ((b & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

parse_status parse_object(std::string_view text, json& out) {
  // nlohmann's parser takes a NUL byte for the end of the text and ignores
  // what follows; no JSON text has one (RFC 8259: not even inside a string).
  if (text.find('\0') != std::string_view::npos) {
    out = json(json::value_t::discarded);
    return parse_status::not_json;
  }
  out = json::parse(text, nullptr, false);
  if (out.is_discarded())
    return parse_status::not_json;
  return out.is_object() ? parse_status::ok : parse_status::not_object;
}

caf::expected<request_body> request_body::parse(std::string_view text) {
  if (text.empty())
    return request_body{};
  json out;
  if (parse_object(text, out) != parse_status::ok)
    return api::fail(api::errc::invalid_request, "body must be a JSON object");
  return request_body{std::move(out)};
}

std::optional<std::string> string_field(const json& obj, const char* key, bool required, std::string& error) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required)
      error = std::string("missing field ") + key;
    return std::nullopt;
  }
  if (!it->is_string()) {
    error = std::string("field ") + key + " must be a string";
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::optional<bool> bool_field(const json& obj, const char* key, std::string& error) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null())
    return std::nullopt;
  if (!it->is_boolean()) {
    error = std::string("field ") + key + " must be true or false";
    return std::nullopt;
  }
  return it->get<bool>();
}

std::optional<std::uint64_t> seq_field(const json& obj, const char* key, std::string& error) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null())
    return std::nullopt;
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0)) {
    error = std::string("field ") + key + " must be a non-negative integer";
    return std::nullopt;
  }
  return it->get<std::uint64_t>();
}

}  // namespace confab::wire
