#include "actors/admin_frontend.hpp"

#include <openssl/crypto.h>

#include "actors/api/atoms.hpp"
#include "actors/presence_manager.hpp"

namespace confab::actors {

using api::errc;
using api::fail;
using json = nlohmann::json;

namespace {

constexpr auto admin_timeout = std::chrono::seconds(10);

bool authorized(const context_ptr& ctx, const exchange& ex) {
  auto expected = "Bearer " + ctx->admin_token;
  const auto& got = ex.call.authorization;
  return !ctx->admin_token.empty() && got.size() == expected.size() &&
         CRYPTO_memcmp(got.data(), expected.data(), got.size()) == 0;
}

void nodes(caf::event_based_actor* self, const context_ptr& ctx, const exchange_ptr& ex) {
  self->request(ctx->node, admin_timeout, api::nodes_atom::value)
      .then(
          [=](const std::vector<api::node_status>& nodes) {
            json list = json::array();
            for (auto& n : nodes)
              list.push_back({{"id", n.id},
                              {"address", n.address},
                              {"http", n.http},
                              {"status", n.status},
                              {"rooms", n.rooms},
                              {"sessions", n.sessions},
                              {"presences", n.presences},
                              {"uptime_ms", n.uptime_ms},
                              {"room_events", n.room_events},
                              {"remote_copies", n.remote_copies}});
            ex->respond_json(200, json{{"nodes", list}});
          },
          [=](caf::error& err) { ex->respond_error(err); });
}

void room(caf::event_based_actor* self, const context_ptr& ctx, const exchange_ptr& ex) {
  api::room_id id{ex->path[4]};
  self->request(ctx->place->room(id), admin_timeout, api::admin_atom::value, id)
      .then(
          [=](const api::room_admin& r) {
            query_presence(self, *ctx->place, r.member_ids, [=](const std::vector<std::string>& presence) {
              std::size_t online = 0;
              for (auto& p : presence)
                online += json::parse(p).value("status", "offline") != "offline" ? 1 : 0;
              ex->respond_json(200, json{{"room", r.room.value},
                                         {"owner", r.owner},
                                         {"replicas", r.replicas},
                                         {"members", r.members},
                                         {"online_members", online},
                                         {"last_seq", r.last_seq},
                                         {"mailbox", r.mailbox}});
            });
          },
          [=](caf::error& err) { ex->respond_error(err); });
}

}  // namespace

void admin_route(caf::event_based_actor* self, const context_ptr& ctx, const exchange_ptr& ex) {
  auto& p = ex->path;
  if (p.size() < 4 || p[1] != "api" || p[2] != "v1")
    return ex->respond_error(fail(errc::not_found, "no such endpoint"));
  if (!authorized(ctx, *ex))
    return ex->respond_error(fail(errc::unauthorized, "admin token required"));
  bool get = ex->call.method == "GET";
  if (p.size() == 4 && p[3] == "nodes")
    return get ? nodes(self, ctx, ex) : ex->respond_error(fail(errc::invalid_request, "method not allowed"), 405);
  if (p.size() == 5 && p[3] == "rooms")
    return get ? room(self, ctx, ex) : ex->respond_error(fail(errc::invalid_request, "method not allowed"), 405);
  ex->respond_error(fail(errc::not_found, "no such endpoint"));
}

}  // namespace confab::actors
