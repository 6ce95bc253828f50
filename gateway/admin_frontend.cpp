#include "gateway/admin_frontend.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

#include "api/atoms.hpp"
#include "api/hex.hpp"
#include "api/metrics.hpp"
#include "api/probe.hpp"
#include "cluster/scatter.hpp"
#include "gateway/http_exchange.hpp"
#include "gateway/presence_query.hpp"
#include "gateway/static_files.hpp"
#include "wire/admin.hpp"
#include "wire/codec.hpp"

namespace confab::gateway {

using api::errc;
using api::fail;

namespace {

constexpr auto admin_timeout = std::chrono::seconds(10);
constexpr std::uint64_t max_limit = 1000;

bool authorized(const context_ptr& ctx, const exchange& ex) {
  auto expected = "Bearer " + ctx->admin_token;
  return !ctx->admin_token.empty() && api::same_secret(ex.call.authorization, expected);
}

std::vector<api::reader_service> all_readers(const context_ptr& ctx) {
  std::vector<api::reader_service> out;
  for (auto& m : ctx->place->current()->live)
    out.push_back(m.readers);
  return out;
}

std::size_t online_count(const std::vector<std::string>& presence) {
  std::size_t online = 0;
  for (auto& p : presence)
    online += wire::is_online(p) ? 1 : 0;
  return online;
}

void nodes(admin_self* self, const context_ptr& ctx, const exchange_ptr& ex) {
  self->request(ctx->node, admin_timeout, api::nodes_atom::value)
      .then([=](const std::vector<api::node_status>& nodes) { ex->respond(200, wire::nodes_json(nodes)); },
            [=](caf::error& err) { ex->respond_error(err); });
}

// A room's admin view and how many of its members are online.
void room_with_online(admin_self* self, const context_ptr& ctx, const api::room_id& id,
                      std::function<void(caf::expected<api::room_admin>, std::size_t)> done) {
  self->request(ctx->place->room(id), admin_timeout, api::admin_atom::value, id)
      .then(
          [=](const api::room_admin& r) {
            query_presence(self, *ctx->place, r.member_ids,
                           [=](const std::vector<std::string>& presence) { done(r, online_count(presence)); });
          },
          [=](caf::error& err) { done(err, 0); });
}

void room(admin_self* self, const context_ptr& ctx, const exchange_ptr& ex) {
  room_with_online(self, ctx, api::room_id{ex->path[4]}, [=](caf::expected<api::room_admin> r, std::size_t online) {
    if (!r)
      return ex->respond_error(r.error());
    ex->respond(200, wire::room_admin_json(*r, online));
  });
}

// A query parameter as a number in [lo, hi]; nullopt (and a 400 sent) if not.
std::optional<std::uint64_t> number_param(const exchange& ex, const char* name, std::uint64_t fallback,
                                          std::uint64_t lo, std::uint64_t hi) {
  auto it = ex.query.find(name);
  if (it == ex.query.end())
    return fallback;
  const auto& v = it->second;
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos || std::stoull(v) < lo ||
      std::stoull(v) > hi) {
    ex.bad(std::string(name) + " must be a number from " + std::to_string(lo) + " to " + std::to_string(hi));
    return std::nullopt;
  }
  return std::stoull(v);
}

// Rooms in a listing get their online members counted: "members=3 online=2 ...".
void add_online(admin_self* self, const context_ptr& ctx, std::shared_ptr<std::vector<api::actor_info>> list,
                std::function<void()> done) {
  auto pending = std::make_shared<std::size_t>(1);
  auto finish = [pending, done] {
    if (--*pending == 0)
      done();
  };
  for (std::size_t i = 0; i < list->size(); ++i) {
    if ((*list)[i].kind != "room")
      continue;
    ++*pending;
    room_with_online(self, ctx, api::room_id{(*list)[i].id}, [=](caf::expected<api::room_admin> r, std::size_t online) {
      auto& d = (*list)[i].detail;
      if (auto sp = d.find(' '); r && sp != std::string::npos)
        d.insert(sp, " online=" + std::to_string(online));
      finish();
    });
  }
  finish();
}

void actors(admin_self* self, const context_ptr& ctx, const exchange_ptr& ex) {
  api::actor_query q;
  auto& query = ex->query;
  if (auto it = query.find("kind"); it != query.end() && !it->second.empty()) {
    auto& kinds = api::actor_kinds();
    if (std::find(kinds.begin(), kinds.end(), it->second) == kinds.end())
      return ex->bad(
          "kind must be one of room, session, presence, hub, room_manager, presence_manager, account, "
          "reader, http_frontend");
    q.kind = it->second;
  }
  if (auto it = query.find("sort"); it != query.end() && !it->second.empty()) {
    if (!api::known_sort(it->second))
      return ex->bad("sort must be mailbox, processed, last_active, since or id");
    q.sort = it->second;
  }
  if (auto it = query.find("q"); it != query.end())
    for (char c : url_decode(it->second))
      q.text.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  auto limit = number_param(*ex, "limit", 100, 1, max_limit);
  if (!limit)
    return;
  auto offset = number_param(*ex, "offset", 0, 0, 1000000);
  if (!offset)
    return;
  q.limit = *limit + *offset;
  std::vector<api::reader_service> targets;
  if (auto it = query.find("node"); it != query.end() && !it->second.empty()) {
    auto node = url_decode(it->second);
    auto view = ctx->place->current();
    for (auto& m : view->live)
      if (m.id == node)
        targets.push_back(m.readers);
    if (targets.empty())
      return ex->respond_error(std::find(view->down.begin(), view->down.end(), node) != view->down.end()
                                   ? fail(errc::unavailable, "node " + node + " is down")
                                   : fail(errc::not_found, "no such node"));
  } else {
    targets = all_readers(ctx);
  }
  auto all = std::make_shared<std::vector<api::actor_info>>();
  auto total = std::make_shared<std::uint64_t>(0);
  auto sort = q.sort;
  cluster::scatter<api::actor_page>(
      self, targets, admin_timeout,
      [=](std::size_t, caf::expected<api::actor_page> page) {
        if (!page)
          return;  // a node that does not answer in time is left out
        *total += page->total;
        std::move(page->actors.begin(), page->actors.end(), std::back_inserter(*all));
      },
      [=] {
        api::sort_actors(*all, sort);
        auto from = std::min<std::size_t>(*offset, all->size());
        auto to = std::min<std::size_t>(from + *limit, all->size());
        auto page = std::make_shared<std::vector<api::actor_info>>(all->begin() + from, all->begin() + to);
        add_online(self, ctx, page, [=] { ex->respond(200, wire::actor_page_json(*page, *total, *offset, *limit)); });
      },
      api::actors_atom::value, q);
}

void user(admin_self* self, const context_ptr& ctx, const exchange_ptr& ex) {
  auto username = url_decode(ex->path[4]);
  self->request(ctx->place->account(username), admin_timeout, api::lookup_atom::value, username)
      .then(
          [=](const api::user_info& u) {
            query_presence(self, *ctx->place, {u.id}, [=](const std::vector<std::string>& presence) {
              auto sessions = std::make_shared<std::vector<api::actor_info>>();
              cluster::scatter<std::vector<api::actor_info>>(
                  self, all_readers(ctx), admin_timeout,
                  [=](std::size_t, caf::expected<std::vector<api::actor_info>> part) {
                    if (part)
                      std::move(part->begin(), part->end(), std::back_inserter(*sessions));
                  },
                  [=] {
                    api::sort_actors(*sessions, "since");
                    ex->respond(200, wire::admin_user_json(u, presence.at(0), *sessions));
                  },
                  api::sessions_atom::value, u.id);
            });
          },
          [=](caf::error& err) { ex->respond_error(err); });
}

void kick(admin_self* self, const context_ptr& ctx, const exchange_ptr& ex) {
  auto session = ex->path[4];
  auto home = ctx->place->tagged_home(session, "s_");
  if (!home)
    return ex->respond_error(fail(errc::not_found, "no such session"));
  self->request(home->readers, admin_timeout, api::kick_atom::value, session)
      .then(
          [=](bool found) {
            if (!found)
              return ex->respond_error(fail(errc::not_found, "no such session"));
            spdlog::info("req={} admin kicked session={}", ex->call.request_id, session);
            ex->respond(204);
          },
          [=](caf::error& err) { ex->respond_error(err); });
}

// An admin action on a node (drain, remove): 202 {node, status} once the
// node actor accepted it.
template <class Atom>
void node_action(admin_self* self, const context_ptr& ctx, const exchange_ptr& ex, Atom atom, std::string status) {
  auto node = url_decode(ex->path[4]);
  self->request(ctx->node, admin_timeout, atom, node)
      .then(
          [=]() {
            spdlog::info("req={} admin: node {} is {}", ex->call.request_id, node, status);
            ex->respond(202, wire::node_action_json(node, status));
          },
          [=](caf::error& err) { ex->respond_error(err); });
}

void drain(admin_self* self, const context_ptr& ctx, const exchange_ptr& ex) {
  node_action(self, ctx, ex, api::drain_atom::value, "draining");
}

void remove(admin_self* self, const context_ptr& ctx, const exchange_ptr& ex) {
  node_action(self, ctx, ex, api::remove_atom::value, "removed");
}

// Creates up to max_bulk_users users with one password, each with a token:
// load tests need thousands of users faster than one Argon2 hash each allows.
constexpr std::size_t max_bulk_users = 10'000;

void add_users(admin_self* self, const context_ptr& ctx, const exchange_ptr& ex) {
  if (!parse_body(*ex))
    return;
  auto cmd = wire::decode_bulk_users(ex->body, max_bulk_users);
  if (!cmd)
    return ex->respond_error(cmd.error());
  self->request(ctx->place->self().accounts, admin_timeout, api::register_atom::value, cmd->usernames, cmd->password)
      .then(
          [=](const std::vector<api::login_result>& made) {
            spdlog::info("req={} admin created {} users", ex->call.request_id, made.size());
            ex->respond(201, wire::bulk_users_json(made));
          },
          [=](caf::error& err) { ex->respond_error(err); });
}

using handler = void (*)(admin_self*, const context_ptr&, const exchange_ptr&);

struct admin_call {
  std::vector<std::string> shape;  // after admin/api/v1; "*" matches any segment
  const char* method;
  handler fn;
};

const std::vector<admin_call>& calls() {
  static const std::vector<admin_call> table{
      {{"nodes"}, "GET", nodes},
      {{"actors"}, "GET", actors},
      {{"rooms", "*"}, "GET", room},
      {{"users"}, "POST", add_users},
      {{"users", "*"}, "GET", user},
      {{"sessions", "*", "kick"}, "POST", kick},
      {{"nodes", "*", "drain"}, "POST", drain},
      {{"nodes", "*", "remove"}, "POST", remove},
  };
  return table;
}

void admin_route(admin_self* self, const context_ptr& ctx, const exchange_ptr& ex) {
  auto& p = ex->path;
  // The console's page and files need no token: its calls do.
  if (p.size() == 1 || p[1] != "api") {
    if (ex->call.method != "GET")
      return ex->respond_error(fail(errc::invalid_request, "method not allowed"), 405);
    return serve_static(*ctx->web, "admin", *ex);
  }
  if (p.size() < 4 || p[2] != "v1")
    return ex->respond_error(fail(errc::not_found, "no such endpoint"));
  if (!authorized(ctx, *ex))
    return ex->respond_error(fail(errc::unauthorized, "admin token required"));
  bool path_known = false;
  for (auto& c : calls()) {
    if (c.shape.size() != p.size() - 3)
      continue;
    bool match = true;
    for (std::size_t i = 0; i < c.shape.size() && match; ++i)
      match = c.shape[i] == "*" || c.shape[i] == p[i + 3];
    if (!match)
      continue;
    path_known = true;
    if (ex->call.method == c.method)
      return c.fn(self, ctx, ex);
  }
  if (path_known)
    return ex->respond_error(fail(errc::invalid_request, "method not allowed"), 405);
  ex->respond_error(fail(errc::not_found, "no such endpoint"));
}

void metrics_page(const context_ptr& ctx, const exchange& ex) {
  std::string out;
  out.reserve(8192);
  api::node_metrics().write(out);
  auto counts = ctx->actors->counts();
  auto count = [&](const char* kind) { return static_cast<double>(counts.count(kind) ? counts.at(kind) : 0); };
  api::write_metric(out, "confab_sessions", "gauge", "Live session actors (one per WebSocket).", count("session"));
  api::write_metric(out, "confab_active_rooms", "gauge", "Room actors active on this node.", count("room"));
  api::write_metric(out, "confab_active_presences", "gauge", "Presence actors active on this node.", count("presence"));
  // The deepest mailbox of each kind of actor (a backlog shows there first).
  std::map<std::string, std::uint64_t> deepest;
  for (auto& p : ctx->actors->all()) {
    auto& d = deepest[p->kind];
    d = std::max(d, p->mailbox());
  }
  out +=
      "# HELP confab_mailbox_max Messages waiting in the fullest mailbox of each kind of actor.\n"
      "# TYPE confab_mailbox_max gauge\n";
  for (auto& [kind, n] : deepest)
    out += "confab_mailbox_max{kind=\"" + kind + "\"} " + std::to_string(n) + "\n";
  // The file system of the data directory.
  struct statvfs fs {};
  if (::statvfs(ctx->data_dir.c_str(), &fs) == 0) {
    api::write_metric(out, "confab_disk_free_bytes", "gauge",
                      "Bytes free for this node on its data directory's file system.",
                      static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize));
    api::write_metric(out, "confab_disk_size_bytes", "gauge", "Size of the data directory's file system.",
                      static_cast<double>(fs.f_blocks) * static_cast<double>(fs.f_frsize));
  }
  auto view = ctx->place->current();
  std::map<std::string, double> members{{"up", 0}, {"draining", 0}, {"down", static_cast<double>(view->down.size())}};
  for (auto& m : view->live)
    ++members[std::find(view->ids.begin(), view->ids.end(), m.id) != view->ids.end() ? "up" : "draining"];
  out +=
      "# HELP confab_cluster_members Members of the cluster as this node sees them, by status.\n"
      "# TYPE confab_cluster_members gauge\n";
  for (auto& [status, n] : members)
    out += "confab_cluster_members{status=\"" + status + "\"} " + std::to_string(static_cast<long long>(n)) + "\n";
  api::http_reply r;
  r.status = 200;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = std::move(out);
  ex.out->respond(std::move(r));
}

}  // namespace

api::http_service::behavior_type admin_frontend(admin_self* self, context_ptr ctx) {
  self->probe_as(ctx->actors, "http_frontend", "admin_frontend");
  api::log_stray_errors(self, "admin frontend");
  return {
      [=](api::http_atom, api::http_call& call, api::responder_ptr& out) {
        auto ex = open_exchange(std::move(call), std::move(out));
        if (ex->path.size() == 1 && ex->path[0] == "metrics")
          return metrics_page(ctx, *ex);
        admin_route(self, ctx, ex);
      },
  };
}

}  // namespace confab::gateway
