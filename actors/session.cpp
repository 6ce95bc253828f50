#include "actors/session.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <caf/event_based_actor.hpp>

#include "actors/command_path.hpp"
#include "api/atoms.hpp"
#include "api/errors.hpp"
#include "api/metrics.hpp"
#include "wire/codec.hpp"
#include "wire/commands.hpp"

namespace confab::actors {

using api::errc;
using api::fail;
using wire::json;

void session_state::write(std::string text) const {
  if (auto s = sink.lock())
    s->send_text(std::make_shared<const std::string>(std::move(text)));
}

void session_state::reply_ok(const std::string& id_json, const std::string& data_json) const {
  write(wire::ok_reply(id_json, data_json));
}

void session_state::reply_error(const std::string& id_json, const caf::error& err) const {
  auto f = api::describe(err);
  auto& m = api::node_metrics();
  m.error(f.code);
  if (f.code == errc::rate_limited)
    m.rate_limited_ws.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("session={} error {}: {}", id.value, api::code_name(f.code), f.message);
  write(wire::error_reply(id_json, f));
}

void session_state::close(std::uint16_t code, const std::string& reason) const {
  if (auto s = sink.lock())
    s->close(code, reason);
}

namespace {

using self_ptr = probed<session_state>*;
constexpr auto request_timeout = std::chrono::seconds(10);

// Fails the request with invalid_request when `error` is set.
bool invalid(self_ptr self, const std::string& id, const std::string& error) {
  if (error.empty())
    return false;
  self->state.reply_error(id, fail(errc::invalid_request, error));
  return true;
}

std::optional<api::room_id> room_field(self_ptr self, const std::string& id, const json& req) {
  std::string error;
  auto room = wire::string_field(req, "room", true, error);
  if (invalid(self, id, error))
    return std::nullopt;
  return api::room_id{*room};
}

// Direct-room partners are watched without asking.
void watch_partner(self_ptr self, const api::user_id& partner) {
  auto& st = self->state;
  auto& owner = st.watching[partner] = st.ctx->place->presence(partner);
  self->request(owner, request_timeout, api::watch_atom::value, partner, st.ctx->place->local_hub())
      .then([](const std::string&) {}, [](caf::error&) {});  // best effort: a missed watch is no failure
}

void do_auth(self_ptr self, const std::string& id, const json& req) {
  auto& st = self->state;
  std::string error;
  auto token = wire::string_field(req, "token", true, error);
  if (!token) {
    st.reply_error(id, fail(errc::unauthorized, "auth needs a token"));
    st.close(4401, "unauthorized");
    self->quit();
    return;
  }
  auto reject = [self, id](caf::error&) {
    spdlog::info("session={} refused: invalid or revoked token", self->state.id.value);
    self->state.reply_error(id, fail(errc::unauthorized, "invalid or revoked token"));
    self->state.close(4401, "unauthorized");
    self->quit();
  };
  // await: frames pipelined behind auth wait until it is done. The hub hears
  // of the session before its rooms are read and is told `ready` after the
  // reply is written (see hub.hpp): no event is missed or comes first.
  self->request(st.ctx->place->self().accounts, request_timeout, api::verify_atom::value, *token)
      .await(
          [=](const api::token_claims& claims, const api::user_info& user) {
            auto& hub = self->state.ctx->place->local_hub();
            self->send(hub, api::subscribe_atom::value, user.id, self->state.sink);
            self->request(self->state.ctx->place->reader(), request_timeout, api::my_rooms_atom::value, user.id,
                          self->state.ctx->place->local_hub())
                .await(
                    [=](const std::vector<api::my_room>& rooms) {
                      auto& st = self->state;
                      st.authed = true;
                      st.who = claims.who;
                      st.jti = claims.jti;
                      st.issued_at = claims.issued_at;
                      self->delayed_send(
                          self, std::chrono::milliseconds(std::max<std::int64_t>(0, claims.expires_at - now_ms())),
                          api::expire_atom::value);
                      self->probe().set_text(user.id.value, user.username);
                      spdlog::info("session={} authenticated as {} ({})", st.id.value, user.username, user.id.value);
                      std::vector<api::room_id> ids;
                      std::vector<api::seq_t> seqs;
                      json counters = json::array();
                      for (auto& r : rooms) {
                        ids.push_back(r.room.id);
                        seqs.push_back(r.last_seq);
                        counters.push_back(wire::room_counters_json(r));
                      }
                      json data{{"user", wire::user_json(user)},
                                {"session", st.id.value},
                                {"node", st.ctx->node_id},
                                {"rooms", std::move(counters)}};
                      // Presence hears of the session, and partner watches start, before the
                      // reply: a notification or status change from then on is not missed;
                      // the hub holds what comes before `ready`, so the reply comes first.
                      st.presence_at = st.ctx->place->presence(user.id);
                      self->send(st.presence_at, api::session_up_atom::value, user.id, user.username,
                                 st.ctx->place->local_hub());
                      for (auto& r : rooms)
                        if (!r.partner.empty())
                          watch_partner(self, r.partner);
                      st.reply_ok(id, data.dump());
                      self->send(st.ctx->place->local_hub(), api::ready_atom::value, std::move(ids), std::move(seqs));
                    },
                    reject);
          },
          reject);
}

void arm_send_tick(self_ptr self) {
  auto& st = self->state;
  if (st.send_tick_armed || st.sends_waiting.empty())
    return;
  st.send_tick_armed = true;
  self->delayed_send(self, std::chrono::seconds(5), api::tick_atom::value);
}

// Answers the sends whose room did not answer in time.
void check_sends(self_ptr self) {
  auto& st = self->state;
  st.send_tick_armed = false;
  auto now = now_ms();
  for (auto it = st.sends_waiting.begin(); it != st.sends_waiting.end() && it->second.first <= now;) {
    auto id = std::move(it->second.second);
    it = st.sends_waiting.erase(it);
    st.reply_error(id, caf::make_error(caf::sec::request_timeout));
  }
  arm_send_tick(self);
}

void do_send(self_ptr self, const std::string& id, const json& req) {
  auto& st = self->state;
  auto room = room_field(self, id, req);
  if (!room)
    return;
  auto cmd = wire::decode_send(req, *room, {st.ctx->lim.max_body_chars, true});
  if (!cmd)
    return st.reply_error(id, cmd.error());
  // The session answers within request_timeout whatever the room does
  // (arm_send_tick); a late ack finds its entry gone and is dropped.
  auto n = ++st.sends_made;
  st.sends_waiting.emplace(n, std::make_pair(now_ms() + std::chrono::milliseconds(request_timeout).count(), id));
  arm_send_tick(self);
  submit_send(self, *st.ctx, st.who, std::move(*cmd), caf::infinite, [self, n, id](caf::expected<api::send_ack> ack) {
    if (self->state.sends_waiting.erase(n) == 0)
      return;  // already answered as timed out
    if (!ack)
      return self->state.reply_error(id, ack.error());
    json data{{"room", ack->room.value}, {"seq", ack->seq}, {"msg_id", ack->msg_id}, {"ts", ack->ts}};
    self->state.reply_ok(id, data.dump());
  });
}

void do_history(self_ptr self, const std::string& id, const json& req) {
  auto& st = self->state;
  auto room = room_field(self, id, req);
  if (!room)
    return;
  std::string error;
  auto before = wire::seq_field(req, "before", error);
  auto after = wire::seq_field(req, "after", error);
  auto limit = wire::seq_field(req, "limit", error);
  if (invalid(self, id, error))
    return;
  if (limit && (*limit < 1 || *limit > st.ctx->lim.history_max))
    return st.reply_error(id,
                          fail(errc::invalid_request, "limit must be 1-" + std::to_string(st.ctx->lim.history_max)));
  api::history_request h{st.who.id,
                         *room,
                         before.has_value(),
                         before.value_or(0),
                         after.has_value(),
                         after.value_or(0),
                         static_cast<std::uint32_t>(limit.value_or(50))};
  self->request(st.ctx->place->room(*room), request_timeout, api::history_atom::value, h)
      .then([=](const api::history_page& page) { self->state.reply_ok(id, wire::history_page_json(page)); },
            [=](caf::error& err) { self->state.reply_error(id, err); });
}

void do_join(self_ptr self, const std::string& id, const json& req) {
  auto room = room_field(self, id, req);
  if (!room)
    return;
  auto& st = self->state;
  self->request(st.ctx->place->room(*room), request_timeout, api::join_atom::value, *room, st.who)
      .then(
          [=](const api::room_info& info) {
            self->state.reply_ok(id, json{{"room", wire::room_json(info)}}.dump());
          },
          [=](caf::error& err) { self->state.reply_error(id, err); });
}

void do_leave(self_ptr self, const std::string& id, const json& req) {
  auto room = room_field(self, id, req);
  if (!room)
    return;
  auto& st = self->state;
  self->request(st.ctx->place->room(*room), request_timeout, api::leave_atom::value, *room, st.who)
      .then([=]() { self->state.reply_ok(id, "{}"); }, [=](caf::error& err) { self->state.reply_error(id, err); });
}

void do_typing(self_ptr self, const std::string& id, const json& req) {
  auto room = room_field(self, id, req);
  if (!room)
    return;
  auto active = req.find("active");
  if (active == req.end() || !active->is_boolean())
    return self->state.reply_error(id, fail(errc::invalid_request, "active must be true or false"));
  auto& st = self->state;
  self->request(st.ctx->place->room(*room), request_timeout, api::typing_atom::value, *room, st.who,
                active->get<bool>())
      .then([=]() { self->state.reply_ok(id, "{}"); }, [=](caf::error& err) { self->state.reply_error(id, err); });
}

void do_read(self_ptr self, const std::string& id, const json& req) {
  auto room = room_field(self, id, req);
  if (!room)
    return;
  std::string error;
  auto seq = wire::seq_field(req, "seq", error);
  if (!seq && error.empty())
    error = "missing field seq";
  if (invalid(self, id, error))
    return;
  auto& st = self->state;
  self->request(st.ctx->place->room(*room), request_timeout, api::read_atom::value, *room, st.who, *seq)
      .then(
          [=](api::seq_t last_read, api::seq_t last_seq) {
            json data{{"room", room->value}, {"last_read", last_read}, {"unread", last_seq - last_read}};
            self->state.reply_ok(id, data.dump());
          },
          [=](caf::error& err) { self->state.reply_error(id, err); });
}

void do_presence(self_ptr self, const std::string& id, const json& req) {
  std::string error;
  auto status = wire::string_field(req, "status", true, error);
  if (invalid(self, id, error))
    return;
  if (*status != "online" && *status != "away" && *status != "dnd")
    return self->state.reply_error(id, fail(errc::invalid_request, "status must be online, away or dnd"));
  auto& st = self->state;
  self->send(st.ctx->place->presence(st.who.id), api::status_atom::value, st.who.id, *status);
  st.reply_ok(id, "{}");
}

// Watches each known username; answers once every presence actor has.
void do_watch(self_ptr self, const std::string& id, const json& req) {
  auto& st = self->state;
  auto users = req.find("users");
  if (users == req.end() || !users->is_array())
    return st.reply_error(id, fail(errc::invalid_request, "users must be an array of usernames"));
  if (users->size() > st.ctx->lim.watch_max)
    return st.reply_error(id, fail(errc::too_large, "at most " + std::to_string(st.ctx->lim.watch_max) + " users"));
  struct gather {
    json presence = json::object();
    std::size_t pending = 0;
  };
  auto g = std::make_shared<gather>();
  std::vector<std::pair<std::string, api::user_id>> found;
  for (auto& u : *users) {
    if (!u.is_string())
      return st.reply_error(id, fail(errc::invalid_request, "users must be an array of usernames"));
    if (auto uid = st.ctx->db->user_id_of(u.get<std::string>()))
      found.emplace_back(u.get<std::string>(), *uid);
  }
  g->pending = found.size();
  if (found.empty())
    return st.reply_ok(id, R"({"presence":{}})");
  for (auto& [name, uid] : found) {
    auto& owner = st.watching[uid] = st.ctx->place->presence(uid);
    auto done = [self, id, g] {
      if (--g->pending == 0)
        self->state.reply_ok(id, json{{"presence", g->presence}}.dump());
    };
    self->request(owner, request_timeout, api::watch_atom::value, uid, st.ctx->place->local_hub())
        .then(
            [g, name = name, done](const std::string& p) {
              g->presence[name] = json::parse(p);
              done();
            },
            [done](caf::error&) { done(); });
  }
}

void handle_frame(self_ptr self, const std::string& text) {
  auto& st = self->state;
  json req;
  auto status = wire::parse_object(text, req);
  if (status != wire::parse_status::ok) {
    st.close(1007, status == wire::parse_status::not_json ? "frame is not JSON" : "frame is not a JSON object");
    self->quit();
    return;
  }
  auto id_it = req.find("id");
  bool id_ok = id_it != req.end() && (id_it->is_number() || id_it->is_string());
  std::string id = id_ok ? id_it->dump() : "null";
  auto op_it = req.find("op");
  std::string op = op_it != req.end() && op_it->is_string() ? op_it->get<std::string>() : "";
  if (!st.authed) {
    if (op == "auth" && id_ok)
      return do_auth(self, id, req);
    st.reply_error(id, fail(errc::unauthorized, "the first frame must be auth"));
    st.close(4401, "unauthorized");
    self->quit();
    return;
  }
  if (auto wait = st.bucket.take(now_ms()); wait > 0)
    return st.reply_error(id, fail(errc::rate_limited, "too many requests", wait));
  if (!id_ok || op.empty())
    return st.reply_error(id, fail(errc::invalid_request, "a request needs op and id (number or string)"));
  if (op == "send")
    return do_send(self, id, req);
  if (op == "history")
    return do_history(self, id, req);
  if (op == "join")
    return do_join(self, id, req);
  if (op == "leave")
    return do_leave(self, id, req);
  if (op == "typing")
    return do_typing(self, id, req);
  if (op == "read")
    return do_read(self, id, req);
  if (op == "presence")
    return do_presence(self, id, req);
  if (op == "watch")
    return do_watch(self, id, req);
  if (op == "ping")
    return st.reply_ok(id, "{}");
  if (op == "auth")
    return st.reply_error(id, fail(errc::invalid_request, "already authenticated"));
  st.reply_error(id, fail(errc::unknown_op, "unknown op"));
}

// The session's token no longer holds: the socket closes as an
// unauthenticated one would (PROTOCOL.md sections 3 and 10).
void token_ended(self_ptr self, const char* why) {
  spdlog::info("session={} closed: {}", self->state.id.value, why);
  self->state.close(4401, why);
  self->quit();
}

}  // namespace

caf::behavior session_actor(self_ptr self, context_ptr ctx, api::sink_ptr sink, std::string remote) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.sink = std::move(sink);
  st.remote = std::move(remote);
  // The id names this node, so that an admin's kick finds it from any node.
  st.id = api::session_id{random_id(st.ctx->place->tagged_prefix("s_").c_str())};
  auto& probe = self->probe();
  probe.remote = st.remote;
  probe.sink = st.sink;
  self->probe_as(st.ctx->actors, "session", st.id.value);
  spdlog::info("session={} opened from {}", st.id.value, st.remote);
  st.bucket.configure(st.ctx->lim.rate_per_s, st.ctx->lim.rate_burst, now_ms());
  self->delayed_send(self, std::chrono::milliseconds(st.ctx->lim.auth_timeout_ms), api::timeout_atom::value);
  // If the actor fails (an exception, an unhandled error), its socket does
  // not outlive it; a normal end has already sent its own close.
  self->attach_functor([sink = st.sink, id = st.id.value](const caf::error& reason) {
    spdlog::info("session={} ended{}", id, reason ? ": " + caf::to_string(reason) : "");
    if (!reason)
      return;
    if (auto s = sink.lock())
      s->close(1011, "session failed");
  });
  return {
      [=](api::frame_atom, const std::string& text) {
        handle_frame(self, text);
        if (auto sink = self->state.sink.lock())
          sink->frame_handled();
      },
      [=](api::timeout_atom) {
        if (self->state.authed)
          return;
        self->state.close(4408, "auth timeout");
        self->quit();
      },
      [=](api::tick_atom) { check_sends(self); },
      // The hub relays revocations of this user's tokens (from any node).
      [=](api::revoke_atom, const std::string& jti) {
        if (self->state.authed && jti == self->state.jti)
          token_ended(self, "token revoked");
      },
      [=](api::revoke_atom, std::int64_t valid_after, const std::string& keep_jti) {
        auto& st = self->state;
        if (st.authed && st.issued_at < valid_after && st.jti != keep_jti)
          token_ended(self, "token revoked");
      },
      [=](api::expire_atom) {
        if (self->state.authed)
          token_ended(self, "token expired");
      },
      [=](api::closed_atom) { self->quit(); },
      // An admin ends the session (the client may connect again).
      [=](api::kick_atom) {
        spdlog::info("session={} kicked by an admin", self->state.id.value);
        self->state.close(4003, "kicked");
        self->quit();
      },
      // Membership changed (the hub tells): presence owned by another node
      // now hears of this session and its watches again; the rest keeps them.
      [=](api::view_atom) {
        auto& st = self->state;
        if (!st.authed)
          return;
        auto& place = *st.ctx->place;
        if (auto owner = place.presence(st.who.id); owner != st.presence_at) {
          st.presence_at = owner;
          self->send(owner, api::session_up_atom::value, st.who.id, st.who.username, place.local_hub());
        }
        for (auto& [user, at] : st.watching)
          if (place.presence(user) != at)
            watch_partner(self, user);
      },
      // A direct room with `partner` was just made.
      [=](api::watch_atom, const api::user_id& partner) {
        if (self->state.authed)
          watch_partner(self, partner);
      },
  };
}

}  // namespace confab::actors
