#include "storage/records.hpp"

#include <stdexcept>

#include <rocksdb/status.h>
#include <nlohmann/json.hpp>

namespace confab::storage {

using api::errc;
using nlohmann::json;

namespace {

// A whole-number field of a record, `fallback` when absent. Anything else is
// corruption: nlohmann's get<> would convert a float (or an integer too big
// for 64 bits, which it parses as one) with undefined behaviour out of range.
template <class T>
T whole(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end())
    return fallback;
  if (!it->is_number_integer())
    throw std::domain_error(std::string("field ") + key + " is not a whole number");
  return it->get<T>();
}

}  // namespace

caf::error from_status(const rocksdb::Status& st) {
  if (st.ok())
    return caf::none;
  if (st.IsNotFound())
    return api::fail(errc::not_found, "not found");
  return api::fail(errc::unavailable, "storage: " + st.ToString());
}

std::string be64(api::seq_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

namespace {

json devices_json(const std::vector<api::device_key>& devices) {
  auto out = json::array();
  for (auto& d : devices)
    out.push_back({{"device_id", d.device_id},
                   {"identity_key", d.identity_key},
                   {"signing_key", d.signing_key},
                   {"signature", d.signature},
                   {"updated_at", d.updated_at}});
  return out;
}

// Entries that are not objects with a string device_id and identity_key
// are left out: a record from before the key directory has none.
std::vector<api::device_key> devices_from(const json& j) {
  std::vector<api::device_key> out;
  auto it = j.find("devices");
  if (it == j.end() || !it->is_array())
    return out;
  auto text = [](const json& d, const char* k) {
    auto f = d.find(k);
    return f != d.end() && f->is_string() ? f->get<std::string>() : std::string();
  };
  for (auto& d : *it) {
    if (!d.is_object() || text(d, "device_id").empty() || text(d, "identity_key").empty())
      continue;
    out.push_back({text(d, "device_id"), text(d, "identity_key"), text(d, "signing_key"), text(d, "signature"),
                   whole(d, "updated_at", std::int64_t{0})});
  }
  return out;
}

}  // namespace

std::string user_to_json(const stored_user& u) {
  return json{{"id", u.info.id.value},
              {"username", u.info.username},
              {"display_name", u.info.display_name},
              {"status_text", u.info.status_text},
              {"avatar_file_id", u.info.avatar_file_id},
              {"password_hash", u.password_hash},
              {"created_at", u.created_at},
              {"tokens_valid_after", u.tokens_valid_after},
              {"keep_jti", u.keep_jti},
              {"version", u.version},
              {"devices", devices_json(u.devices)}}
      .dump();
}

stored_user user_from_json(const std::string& text) {
  auto j = json::parse(text);
  stored_user u;
  u.info.id = api::user_id{j.at("id").get<std::string>()};
  u.info.username = j.at("username").get<std::string>();
  u.info.display_name = j.value("display_name", u.info.username);
  u.info.status_text = j.value("status_text", "");
  u.info.avatar_file_id = j.value("avatar_file_id", "");
  u.password_hash = j.value("password_hash", "");
  u.created_at = whole(j, "created_at", std::int64_t{0});
  u.tokens_valid_after = whole(j, "tokens_valid_after", std::int64_t{0});
  u.keep_jti = j.value("keep_jti", "");
  u.version = whole(j, "version", std::uint64_t{0});
  u.devices = devices_from(j);
  return u;
}

std::string room_to_json(const api::room_info& r) {
  return json{{"id", r.id.value},           {"name", r.name},          {"topic", r.topic},
              {"visibility", r.visibility}, {"kind", r.kind},          {"created_at", r.created_at},
              {"owner", r.owner.value},     {"encrypted", r.encrypted}}
      .dump();
}

api::room_info room_from_json(const std::string& text) {
  auto j = json::parse(text);
  api::room_info r;
  r.id = api::room_id{j.at("id").get<std::string>()};
  r.name = j.value("name", "");
  r.topic = j.value("topic", "");
  r.visibility = j.value("visibility", "private");
  r.kind = j.value("kind", "room");
  r.created_at = whole(j, "created_at", std::int64_t{0});
  r.owner = api::user_id{j.value("owner", "")};
  auto e = j.find("encrypted");
  r.encrypted = e != j.end() && e->is_boolean() && e->get<bool>();
  return r;
}

std::string file_to_json(const file_record& f) {
  json j{{"id", f.id},         {"name", f.name},       {"size", f.size},         {"content_type", f.content_type},
         {"sha256", f.sha256}, {"room", f.room.value}, {"owner", f.owner.value}, {"created_at", f.created_at},
         {"chunks", f.chunks}, {"width", f.width},     {"height", f.height},     {"thumbnail", f.thumbnail}};
  if (f.encrypted)
    j["encrypted"] = true;
  return j.dump();
}

file_record file_from_json(const std::string& text) {
  auto j = json::parse(text);
  file_record f;
  f.id = j.at("id").get<std::string>();
  f.name = j.value("name", "");
  f.size = whole(j, "size", std::uint64_t{0});
  f.content_type = j.value("content_type", "application/octet-stream");
  f.sha256 = j.value("sha256", "");
  f.room = api::room_id{j.value("room", "")};
  f.owner = api::user_id{j.value("owner", "")};
  f.created_at = whole(j, "created_at", std::int64_t{0});
  f.chunks = whole(j, "chunks", std::uint64_t{0});
  f.width = whole(j, "width", 0u);
  f.height = whole(j, "height", 0u);
  f.thumbnail = j.value("thumbnail", false);
  f.encrypted = j.value("encrypted", false);
  return f;
}

std::string chunk_key(const std::string& file, std::uint64_t index) {
  auto key = file + '\0';
  key += be64(index);
  return key;
}

}  // namespace confab::storage
