#include "wire/admin.hpp"

#include "api/errors.hpp"

namespace confab::wire {

bool is_online(const std::string& presence_json) {
  auto j = json::parse(presence_json, nullptr, false);
  return j.is_object() && j.value("status", "offline") != "offline";
}

std::string nodes_json(const std::vector<api::node_status>& nodes) {
  json list = json::array();
  for (auto& n : nodes) {
    json actors = json::object();
    for (std::size_t i = 0; i < api::actor_kinds().size(); ++i)
      actors[api::actor_kinds()[i]] = i < n.actors.size() ? n.actors[i] : 0;
    list.push_back({{"id", n.id},
                    {"address", n.address},
                    {"http", n.http},
                    {"status", n.status},
                    {"rooms", n.rooms},
                    {"sessions", n.sessions},
                    {"presences", n.presences},
                    {"uptime_ms", n.uptime_ms},
                    {"room_events", n.room_events},
                    {"remote_copies", n.remote_copies},
                    {"messages", n.messages},
                    {"actors", std::move(actors)}});
  }
  return json{{"nodes", std::move(list)}}.dump();
}

std::string room_admin_json(const api::room_admin& r, std::size_t online) {
  return json{{"room", r.room.value},     {"name", r.name},         {"kind", r.kind},      {"visibility", r.visibility},
              {"owner", r.owner},         {"replicas", r.replicas}, {"epoch", r.epoch},    {"members", r.members},
              {"online_members", online}, {"last_seq", r.last_seq}, {"mailbox", r.mailbox}}
      .dump();
}

std::string actor_page_json(const std::vector<api::actor_info>& actors, std::uint64_t total, std::uint64_t offset,
                            std::uint64_t limit) {
  json list = json::array();
  for (auto& a : actors)
    list.push_back({{"id", a.id},
                    {"kind", a.kind},
                    {"node", a.node},
                    {"mailbox", a.mailbox},
                    {"processed", a.processed},
                    {"since", a.since},
                    {"last_active", a.last_active},
                    {"detail", a.detail}});
  return json{{"actors", std::move(list)}, {"total", total}, {"offset", offset}, {"limit", limit}}.dump();
}

std::string admin_user_json(const api::user_info& user, const std::string& presence_json,
                            const std::vector<api::actor_info>& sessions) {
  json list = json::array();
  for (auto& s : sessions)
    list.push_back({{"id", s.id}, {"node", s.node}, {"since", s.since}, {"remote", s.detail}});
  return json{{"user", user_json(user)}, {"presence", json::parse(presence_json)}, {"sessions", std::move(list)}}
      .dump();
}

std::string node_action_json(const std::string& node, const std::string& status) {
  return json{{"node", node}, {"status", status}}.dump();
}

caf::expected<bulk_users> decode_bulk_users(const json& body, std::size_t max) {
  if (!body.contains("usernames") || !body["usernames"].is_array() || body["usernames"].empty() ||
      body["usernames"].size() > max || !body.contains("password") || !body["password"].is_string())
    return api::fail(api::errc::invalid_request,
                     "usernames must be a list of 1-" + std::to_string(max) + " names and password a string");
  bulk_users out;
  for (auto& n : body["usernames"]) {
    if (!n.is_string())
      return api::fail(api::errc::invalid_request, "usernames must be strings");
    out.usernames.push_back(n.get<std::string>());
  }
  out.password = body["password"].get<std::string>();
  return out;
}

std::string bulk_users_json(const std::vector<api::login_result>& made) {
  json list = json::array();
  for (auto& m : made)
    list.push_back({{"user", user_json(m.user)}, {"token", m.token}, {"expires_at", m.expires_at}});
  return json{{"users", std::move(list)}}.dump();
}

}  // namespace confab::wire
