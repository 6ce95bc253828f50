#include "client/admin_client.hpp"

#include <nlohmann/json.hpp>

namespace confab::client {

namespace {

constexpr std::string_view api = "/admin/api/v1";

void add_param(std::string& target, std::string_view name, std::string_view value) {
  if (value.empty())
    return;
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += name;
  target += '=';
  target += percent_encode(value);
}

}  // namespace

api_error parse_api_error(std::string_view body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return {};
  auto it = doc.find("error");
  if (it == doc.end() || !it->is_object())
    return {};
  api_error e;
  if (auto c = it->find("code"); c != it->end() && c->is_string())
    e.code = c->get<std::string>();
  if (auto m = it->find("message"); m != it->end() && m->is_string())
    e.message = m->get<std::string>();
  return e;
}

std::string actors_target(const actor_filter& f) {
  std::string t = std::string(api) + "/actors";
  add_param(t, "node", f.node);
  add_param(t, "kind", f.kind);
  add_param(t, "q", f.q);
  add_param(t, "sort", f.sort);
  if (f.limit)
    add_param(t, "limit", std::to_string(*f.limit));
  if (f.offset)
    add_param(t, "offset", std::to_string(*f.offset));
  return t;
}

std::string room_target(std::string_view room) {
  return std::string(api) + "/rooms/" + percent_encode(room);
}

std::string user_target(std::string_view username) {
  return std::string(api) + "/users/" + percent_encode(username);
}

std::string kick_target(std::string_view session) {
  return std::string(api) + "/sessions/" + percent_encode(session) + "/kick";
}

std::string node_target(std::string_view node, std::string_view action) {
  return std::string(api) + "/nodes/" + percent_encode(node) + "/" + std::string(action);
}

admin_client::admin_client(base_url url, std::string token, http_options options)
    : url_(std::move(url)), token_(std::move(token)), options_(std::move(options)) {}

http_outcome admin_client::call(std::string method, std::string target) const {
  return perform(url_, http_request{std::move(method), std::move(target), {}, token_}, options_);
}

http_outcome admin_client::nodes() const {
  return call("GET", std::string(api) + "/nodes");
}

http_outcome admin_client::actors(const actor_filter& filter) const {
  return call("GET", actors_target(filter));
}

http_outcome admin_client::room(std::string_view room) const {
  return call("GET", room_target(room));
}

http_outcome admin_client::user(std::string_view username) const {
  return call("GET", user_target(username));
}

http_outcome admin_client::kick(std::string_view session) const {
  return call("POST", kick_target(session));
}

http_outcome admin_client::node_action(std::string_view node, std::string_view action) const {
  return call("POST", node_target(node, action));
}

}  // namespace confab::client
