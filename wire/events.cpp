#include "wire/events.hpp"

#include <algorithm>

#include "api/errors.hpp"
#include "wire/codec.hpp"

namespace confab::wire {

std::string member_event_json(const api::room_id& room, const std::string& username, const char* action) {
  return json{{"room", room.value}, {"user", username}, {"action", action}}.dump();
}

std::string member_summary_json(const api::room_id& room, std::size_t members,
                                const std::vector<std::pair<std::string, std::string>>& changes, std::uint64_t more) {
  json list = json::array();
  for (auto& [user, action] : changes)
    list.push_back({{"user", user}, {"action", action}});
  return json{{"room", room.value}, {"members", members}, {"changes", std::move(list)}, {"more", more}}.dump();
}

std::string typing_event_json(const api::room_id& room, const std::string& username, bool active) {
  return json{{"room", room.value}, {"user", username}, {"active", active}}.dump();
}

std::string notification_json(const api::room_id& room, api::seq_t seq, const std::string& from, const char* reason,
                              const std::optional<std::string>& body) {
  json j{{"room", room.value}, {"seq", seq}, {"from", from}, {"reason", reason}};
  if (!body)
    return j.dump();
  auto cut = *body;
  std::size_t points = 0;
  for (std::size_t i = 0; i < cut.size(); ++i)
    if ((static_cast<unsigned char>(cut[i]) & 0xC0) != 0x80 && ++points > 100) {
      cut.resize(i);
      break;
    }
  j["preview"] = std::move(cut);
  return j.dump();
}

namespace {

json presence_object(const std::string& status, std::int64_t last_seen) {
  json j{{"status", status}};
  if (status == "offline" && last_seen > 0)
    j["last_seen"] = last_seen;
  return j;
}

}  // namespace

std::string presence_json(const std::string& status, std::int64_t last_seen) {
  return presence_object(status, last_seen).dump();
}

std::string presence_event_json(const std::string& username, const std::string& status, std::int64_t last_seen) {
  auto j = presence_object(status, last_seen);
  j["user"] = username;
  return j.dump();
}

std::string push_json(const std::string& username, const std::string& notification_json) {
  return R"({"user":)" + json(username).dump() + R"(,"notification":)" + notification_json + "}";
}

caf::expected<api::send_ack> stored_ack(const api::room_id& room, api::seq_t seq, std::string text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return api::fail(api::errc::unavailable, "stored message unreadable");
  auto msg_id = j.value("msg_id", json()).is_string() ? j["msg_id"].get<std::string>() : std::string();
  auto ts = j.value("ts", json()).is_number_integer() ? j["ts"].get<std::int64_t>() : std::int64_t{0};
  return api::send_ack{room, seq, std::move(msg_id), ts, std::move(text)};
}

namespace {

caf::expected<json> stored_object(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return api::fail(api::errc::unavailable, "stored message unreadable");
  return j;
}

bool is_deleted(const json& m) {
  auto d = m.find("deleted");
  return d != m.end() && d->is_boolean() && d->get<bool>();
}

bool sent_by(const json& m, const std::string& username) {
  auto from = m.find("from");
  return from != m.end() && from->is_string() && from->get_ref<const std::string&>() == username;
}

}  // namespace

caf::expected<std::string> edited_message(std::string_view stored, const std::string& editor, const std::string& body,
                                          const std::string& e2ee, std::int64_t now) {
  auto m = stored_object(stored);
  if (!m)
    return m.error();
  if (is_deleted(*m))
    return api::fail(api::errc::invalid_request, "the message is deleted");
  if (!sent_by(*m, editor))
    return api::fail(api::errc::forbidden, "only its sender edits a message");
  if (e2ee.empty()) {
    (*m)["body"] = body;
  } else {
    auto e = json::parse(e2ee, nullptr, false);
    if (e.is_discarded())
      return api::fail(api::errc::invalid_request, "e2ee is not JSON");
    (*m)["e2ee"] = std::move(e);
  }
  (*m)["edited_at"] = now;
  return m->dump();
}

caf::expected<deleted_message> delete_message(std::string_view stored, const std::string& deleter, bool owner) {
  auto m = stored_object(stored);
  if (!m)
    return m.error();
  if (!owner && !sent_by(*m, deleter))
    return api::fail(api::errc::forbidden, "only its sender or the room's owner deletes a message");
  deleted_message out;
  out.changed = !is_deleted(*m);
  if (auto f = m->find("file"); f != m->end() && f->is_object() && f->value("id", json()).is_string())
    out.file_id = (*f)["id"].get<std::string>();
  for (const char* key : {"body", "file", "e2ee"})
    m->erase(key);
  (*m)["deleted"] = true;
  out.text = m->dump();
  return out;
}

caf::expected<std::optional<std::string>> reacted_message(std::string_view stored, const std::string& username,
                                                          const std::string& emoji, bool active) {
  auto m = stored_object(stored);
  if (!m)
    return m.error();
  if (is_deleted(*m))
    return api::fail(api::errc::invalid_request, "the message is deleted");
  auto& reactions = (*m)["reactions"];
  if (!reactions.is_array())
    reactions = json::array();
  auto entry = std::find_if(reactions.begin(), reactions.end(), [&](const json& r) {
    auto e = r.is_object() ? r.find("emoji") : r.end();
    return e != r.end() && e->is_string() && e->get_ref<const std::string&>() == emoji;
  });
  if (entry == reactions.end()) {
    if (!active)
      return std::optional<std::string>{};
    reactions.push_back({{"emoji", emoji}, {"count", 0}, {"users", json::array()}});
    entry = reactions.end() - 1;
  }
  auto& users = (*entry)["users"];
  if (!users.is_array())
    users = json::array();
  auto me = std::find(users.begin(), users.end(), username);
  if (active == (me != users.end()))
    return std::optional<std::string>{};
  if (active)
    users.push_back(username);
  else
    users.erase(me);
  (*entry)["count"] = users.size();
  if (users.empty())
    reactions.erase(entry);
  if (reactions.empty())
    m->erase("reactions");
  return std::optional<std::string>{m->dump()};
}

namespace {

constexpr std::size_t max_participants = 20;

// Stored text is not trusted: a field of another type reads as absent.
std::int64_t int_or_zero(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

std::string string_or_empty(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<api::seq_t> reply_seqs(const json& m) {
  std::vector<api::seq_t> out;
  auto r = m.find("thread_replies");
  if (r == m.end() || !r->is_array())
    return out;
  for (auto& x : *r)
    if (x.is_number_unsigned())
      out.push_back(x.get<api::seq_t>());
  return out;
}

// The summary of a thread from its live replies' senders and times, in order.
json summary_of(const std::vector<std::pair<std::string, std::int64_t>>& live) {
  json participants = json::array();
  std::int64_t last_ts = 0;
  for (auto& [from, ts] : live) {
    last_ts = std::max(last_ts, ts);
    if (participants.size() < max_participants &&
        std::find(participants.begin(), participants.end(), from) == participants.end())
      participants.push_back(from);
  }
  return {{"replies", live.size()}, {"last_ts", last_ts}, {"participants", std::move(participants)}};
}

}  // namespace

api::seq_t thread_of(std::string_view stored) {
  if (stored.find("\"thread\"") == std::string_view::npos)
    return 0;
  auto m = json::parse(stored, nullptr, false);
  auto t = m.is_object() ? m.find("thread") : m.end();
  return t != m.end() && t->is_number_unsigned() ? t->get<api::seq_t>() : 0;
}

std::vector<api::seq_t> thread_replies(std::string_view stored) {
  if (stored.find("\"thread_replies\"") == std::string_view::npos)
    return {};
  auto m = json::parse(stored, nullptr, false);
  return m.is_object() ? reply_seqs(m) : std::vector<api::seq_t>{};
}

caf::expected<std::string> thread_added(std::string_view root, api::seq_t seq, const std::string& username,
                                        std::int64_t ts) {
  auto m = stored_object(root);
  if (!m)
    return m.error();
  auto seqs = reply_seqs(*m);
  if (std::find(seqs.begin(), seqs.end(), seq) != seqs.end())
    return std::string(root);
  if (seqs.empty() && is_deleted(*m))
    return api::fail(api::errc::invalid_request, "the message is deleted");
  seqs.push_back(seq);
  (*m)["thread_replies"] = seqs;
  auto& s = (*m)["thread_summary"];
  if (!s.is_object())
    s = json::object();
  s["replies"] = std::max<std::int64_t>(0, int_or_zero(s, "replies")) + 1;
  s["last_ts"] = std::max(int_or_zero(s, "last_ts"), ts);
  auto& p = s["participants"];
  if (!p.is_array())
    p = json::array();
  if (p.size() < max_participants && std::find(p.begin(), p.end(), username) == p.end())
    p.push_back(username);
  return m->dump();
}

caf::expected<std::string> thread_recounted(std::string_view root, const std::vector<std::string>& replies) {
  auto m = stored_object(root);
  if (!m)
    return m.error();
  std::vector<std::pair<std::string, std::int64_t>> live;
  for (auto& text : replies) {
    auto r = stored_object(text);
    if (!r)
      return r.error();
    if (!is_deleted(*r))
      live.emplace_back(string_or_empty(*r, "from"), int_or_zero(*r, "ts"));
  }
  if (live.empty())
    m->erase("thread_summary");
  else
    (*m)["thread_summary"] = summary_of(live);
  return m->dump();
}

std::string client_message(std::string stored) {
  constexpr std::size_t max_names = 20;
  bool reactions = stored.find("\"reactions\"") != std::string::npos;
  bool replies = stored.find("\"thread_replies\"") != std::string::npos;
  if (!reactions && !replies)
    return stored;
  auto m = json::parse(stored, nullptr, false);
  if (!m.is_object())
    return stored;
  bool cut = m.erase("thread_replies") > 0;
  auto r = m.find("reactions");
  if (r != m.end() && r->is_array()) {
    for (auto& entry : *r) {
      auto users = entry.find("users");
      if (users != entry.end() && users->is_array() && users->size() > max_names) {
        users->erase(users->begin() + max_names, users->end());
        cut = true;
      }
    }
  }
  return cut ? m.dump() : stored;
}

std::string update_reply_json(std::string_view message, bool edit) {
  auto m = json::parse(message, nullptr, false);
  if (!m.is_object())
    return "{}";
  json out{{"room", m.value("room", json())}, {"seq", m.value("seq", json())}};
  if (edit)
    out["edited_at"] = m.value("edited_at", json());
  return out.dump();
}

std::string thread_page_json(std::string root, const api::history_page& page) {
  std::string out = R"({"root":)";
  out += client_message(std::move(root));
  out += R"(,"messages":[)";
  for (std::size_t i = 0; i < page.messages.size(); ++i) {
    if (i > 0)
      out += ',';
    out += client_message(page.messages[i]);
  }
  out += R"(],"has_more":)";
  out += page.has_more ? "true" : "false";
  out += '}';
  return out;
}

}  // namespace confab::wire
