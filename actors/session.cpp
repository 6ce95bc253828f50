#include "actors/session.hpp"

#include <algorithm>
#include <type_traits>
#include <variant>

#include <spdlog/spdlog.h>
#include <caf/event_based_actor.hpp>

#include "api/atoms.hpp"
#include "api/clock.hpp"
#include "api/errors.hpp"
#include "api/hex.hpp"
#include "api/metrics.hpp"
#include "cluster/scatter.hpp"
#include "gateway/command_path.hpp"
#include "wire/codec.hpp"
#include "wire/commands.hpp"
#include "wire/events.hpp"

namespace confab::actors {

using api::errc;
using api::fail;

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

using self_ptr = session_self*;
constexpr auto request_timeout = std::chrono::seconds(10);

// Direct-room partners are watched without asking.
void watch_partner(self_ptr self, const api::user_id& partner) {
  auto& st = self->state;
  auto& owner = st.watching[partner] = st.ctx->place->presence(partner);
  self->request(owner, request_timeout, api::watch_atom::value, partner, api::untyped(st.ctx->place->local_hub()))
      .then([](const std::string&) {}, [](caf::error&) {});  // best effort: a missed watch is no failure
}

void do_auth(self_ptr self, const std::string& id, const api::auth_command& cmd) {
  auto& st = self->state;
  auto reject = [self, id](caf::error&) {
    spdlog::info("session={} refused: invalid or revoked token", self->state.id.value);
    self->state.reply_error(id, fail(errc::unauthorized, "invalid or revoked token"));
    self->state.close(4401, "unauthorized");
    self->quit();
  };
  // await: frames pipelined behind auth wait until it is done. The hub hears
  // of the session before its rooms are read and is told `ready` after the
  // reply is written (see hub.hpp): no event is missed or comes first.
  self->request(st.ctx->place->self().accounts, request_timeout, api::verify_atom::value, cmd.token)
      .await(
          [=](const api::token_claims& claims, const api::user_info& user) {
            auto& hub = self->state.ctx->place->local_hub();
            api::tell(self, hub, api::subscribe_atom::value, user.id, self->state.sink);
            self->request(self->state.ctx->place->reader(), request_timeout, api::my_rooms_atom::value, user.id,
                          api::untyped(self->state.ctx->place->local_hub()))
                .await(
                    [=](const std::vector<api::my_room>& rooms) {
                      auto& st = self->state;
                      st.authed = true;
                      st.who = claims.who;
                      st.jti = claims.jti;
                      st.issued_at = claims.issued_at;
                      self->delayed_send(
                          self, std::chrono::milliseconds(std::max<std::int64_t>(0, claims.expires_at - api::now_ms())),
                          api::expire_atom::value);
                      self->probe().set_text(user.id.value, user.username);
                      spdlog::info("session={} authenticated as {} ({})", st.id.value, user.username, user.id.value);
                      std::vector<api::room_id> ids;
                      std::vector<api::seq_t> seqs;
                      for (auto& r : rooms) {
                        ids.push_back(r.room.id);
                        seqs.push_back(r.last_seq);
                      }
                      // Presence hears of the session, and partner watches start, before the
                      // reply: a notification or status change from then on is not missed;
                      // the hub holds what comes before `ready`, so the reply comes first.
                      st.presence_at = st.ctx->place->presence(user.id);
                      api::tell(self, st.presence_at, api::session_up_atom::value, user.id, user.username,
                                api::untyped(st.ctx->place->local_hub()));
                      for (auto& r : rooms)
                        if (!r.partner.empty())
                          watch_partner(self, r.partner);
                      st.reply_ok(id, wire::auth_reply_json(user, st.id.value, st.ctx->node_id, rooms));
                      api::tell(self, st.ctx->place->local_hub(), api::ready_atom::value, std::move(ids),
                                std::move(seqs));
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
  auto now = api::now_ms();
  for (auto it = st.sends_waiting.begin(); it != st.sends_waiting.end() && it->second.first <= now;) {
    auto id = std::move(it->second.second);
    it = st.sends_waiting.erase(it);
    st.reply_error(id, caf::make_error(caf::sec::request_timeout));
  }
  arm_send_tick(self);
}

void do_send(self_ptr self, const std::string& id, api::send_command cmd) {
  auto& st = self->state;
  // The session answers within request_timeout whatever the room does
  // (arm_send_tick); a late ack finds its entry gone and is dropped.
  auto n = ++st.sends_made;
  st.sends_waiting.emplace(n, std::make_pair(api::now_ms() + std::chrono::milliseconds(request_timeout).count(), id));
  arm_send_tick(self);
  gateway::submit_send(self, st.ctx->place, st.who, std::move(cmd), caf::infinite,
                       [self, n, id](caf::expected<api::send_ack> ack) {
                         if (self->state.sends_waiting.erase(n) == 0)
                           return;  // already answered as timed out
                         if (!ack)
                           return self->state.reply_error(id, ack.error());
                         self->state.reply_ok(id, wire::send_ack_json(*ack));
                       });
}

void do_history(self_ptr self, const std::string& id, const api::history_command& cmd) {
  auto& st = self->state;
  gateway::submit_history(self, *st.ctx->place, st.who.id, cmd, caf::duration{request_timeout},
                          [self, id](caf::expected<api::history_page> page) {
                            if (!page)
                              return self->state.reply_error(id, page.error());
                            self->state.reply_ok(id, wire::history_page_json(*page));
                          });
}

void do_join(self_ptr self, const std::string& id, const api::join_command& cmd) {
  auto& st = self->state;
  self->request(st.ctx->place->room(cmd.room), request_timeout, api::join_atom::value, cmd.room, st.who)
      .then([=](const api::room_info& info) { self->state.reply_ok(id, wire::room_reply_json(info)); },
            [=](caf::error& err) { self->state.reply_error(id, err); });
}

void do_leave(self_ptr self, const std::string& id, const api::leave_command& cmd) {
  auto& st = self->state;
  self->request(st.ctx->place->room(cmd.room), request_timeout, api::leave_atom::value, cmd.room, st.who)
      .then([=]() { self->state.reply_ok(id, "{}"); }, [=](caf::error& err) { self->state.reply_error(id, err); });
}

void do_typing(self_ptr self, const std::string& id, const api::typing_command& cmd) {
  auto& st = self->state;
  self->request(st.ctx->place->room(cmd.room), request_timeout, api::typing_atom::value, cmd.room, st.who, cmd.active)
      .then([=]() { self->state.reply_ok(id, "{}"); }, [=](caf::error& err) { self->state.reply_error(id, err); });
}

void do_read(self_ptr self, const std::string& id, const api::read_command& cmd) {
  auto& st = self->state;
  auto room = cmd.room;
  self->request(st.ctx->place->room(room), request_timeout, api::read_atom::value, room, st.who, cmd.seq)
      .then([=](api::seq_t last_read,
                api::seq_t last_seq) { self->state.reply_ok(id, wire::read_reply_json(room, last_read, last_seq)); },
            [=](caf::error& err) { self->state.reply_error(id, err); });
}

void do_edit(self_ptr self, const std::string& id, const api::edit_command& cmd) {
  auto& st = self->state;
  self->request(st.ctx->place->room(cmd.room), request_timeout, api::edit_atom::value, cmd.room, st.who, cmd.seq,
                cmd.body, cmd.e2ee)
      .then([=](const std::string& m) { self->state.reply_ok(id, wire::update_reply_json(m, true)); },
            [=](caf::error& err) { self->state.reply_error(id, err); });
}

void do_delete(self_ptr self, const std::string& id, const api::delete_command& cmd) {
  auto& st = self->state;
  self->request(st.ctx->place->room(cmd.room), request_timeout, api::delete_atom::value, cmd.room, st.who, cmd.seq)
      .then([=](const std::string& m) { self->state.reply_ok(id, wire::update_reply_json(m, false)); },
            [=](caf::error& err) { self->state.reply_error(id, err); });
}

void do_react(self_ptr self, const std::string& id, const api::react_command& cmd) {
  auto& st = self->state;
  self->request(st.ctx->place->room(cmd.room), request_timeout, api::react_atom::value, cmd.room, st.who, cmd.seq,
                cmd.emoji, cmd.active)
      .then([=](const std::string& m) { self->state.reply_ok(id, wire::update_reply_json(m, false)); },
            [=](caf::error& err) { self->state.reply_error(id, err); });
}

void do_presence(self_ptr self, const std::string& id, const api::presence_command& cmd) {
  auto& st = self->state;
  api::tell(self, st.ctx->place->presence(st.who.id), api::status_atom::value, st.who.id, cmd.status);
  st.reply_ok(id, "{}");
}

// Watches each known username; answers once every presence actor has.
void do_watch(self_ptr self, const std::string& id, const api::watch_command& cmd) {
  auto& st = self->state;
  std::vector<std::pair<std::string, api::user_id>> found;
  for (auto& name : cmd.users)
    if (auto uid = st.user_db.user_id_of(name))
      found.emplace_back(name, *uid);
  std::vector<api::presence_service> owners;
  for (auto& [name, uid] : found)
    owners.push_back(st.watching[uid] = st.ctx->place->presence(uid));
  auto presence = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
  cluster::scatter_each<std::string>(
      found.size(),
      [&](std::size_t i) {
        return self->request(owners[i], request_timeout, api::watch_atom::value, found[i].second,
                             api::untyped(st.ctx->place->local_hub()));
      },
      [presence, found](std::size_t i, caf::expected<std::string> p) {
        if (p)
          presence->emplace_back(found[i].first, std::move(*p));
      },
      [self, id, presence] { self->state.reply_ok(id, wire::watch_reply_json(*presence)); });
}

void handle_frame(self_ptr self, const std::string& text) {
  auto& st = self->state;
  auto& lim = st.ctx->lim;
  auto frame = wire::decode_frame(text, {lim.max_body_chars, lim.history_max, lim.watch_max});
  if (frame.status != wire::parse_status::ok) {
    st.close(1007, frame.status == wire::parse_status::not_json ? "frame is not JSON" : "frame is not a JSON object");
    self->quit();
    return;
  }
  auto& id = frame.id;
  if (!st.authed) {
    auto* auth = frame.command ? std::get_if<api::auth_command>(&*frame.command) : nullptr;
    if (frame.op == "auth" && frame.id_ok && auth)
      return do_auth(self, id, *auth);
    if (frame.op == "auth" && frame.id_ok)
      st.reply_error(id, frame.command.error());  // auth needs a token
    else
      st.reply_error(id, fail(errc::unauthorized, "the first frame must be auth"));
    st.close(4401, "unauthorized");
    self->quit();
    return;
  }
  if (auto wait = st.bucket.take(api::now_ms()); wait > 0)
    return st.reply_error(id, fail(errc::rate_limited, "too many requests", wait));
  if (!frame.id_ok || frame.op.empty())
    return st.reply_error(id, fail(errc::invalid_request, "a request needs op and id (number or string)"));
  if (frame.op == "auth")
    return st.reply_error(id, fail(errc::invalid_request, "already authenticated"));
  if (!frame.command)
    return st.reply_error(id, frame.command.error());
  std::visit(
      [&](auto& cmd) {
        using command = std::decay_t<decltype(cmd)>;
        if constexpr (std::is_same_v<command, api::send_command>)
          do_send(self, id, std::move(cmd));
        else if constexpr (std::is_same_v<command, api::history_command>)
          do_history(self, id, cmd);
        else if constexpr (std::is_same_v<command, api::join_command>)
          do_join(self, id, cmd);
        else if constexpr (std::is_same_v<command, api::leave_command>)
          do_leave(self, id, cmd);
        else if constexpr (std::is_same_v<command, api::typing_command>)
          do_typing(self, id, cmd);
        else if constexpr (std::is_same_v<command, api::read_command>)
          do_read(self, id, cmd);
        else if constexpr (std::is_same_v<command, api::presence_command>)
          do_presence(self, id, cmd);
        else if constexpr (std::is_same_v<command, api::watch_command>)
          do_watch(self, id, cmd);
        else if constexpr (std::is_same_v<command, api::ping_command>)
          st.reply_ok(id, "{}");
        else if constexpr (std::is_same_v<command, api::edit_command>)
          do_edit(self, id, cmd);
        else if constexpr (std::is_same_v<command, api::delete_command>)
          do_delete(self, id, cmd);
        else if constexpr (std::is_same_v<command, api::react_command>)
          do_react(self, id, cmd);
        // auth_command: answered above
      },
      *frame.command);
}

// The session's token no longer holds: the socket closes as an
// unauthenticated one would (PROTOCOL.md sections 3 and 10).
void token_ended(self_ptr self, const char* why) {
  spdlog::info("session={} closed: {}", self->state.id.value, why);
  self->state.close(4401, why);
  self->quit();
}

}  // namespace

api::session_actor::behavior_type session_actor(self_ptr self, context_ptr ctx, storage::user_store users,
                                                api::sink_ptr sink, std::string remote) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.user_db = std::move(users);
  st.sink = std::move(sink);
  st.remote = std::move(remote);
  // The id names this node, so that an admin's kick finds it from any node.
  st.id = api::session_id{api::random_id(st.ctx->place->tagged_prefix("s_"))};
  auto& probe = self->probe();
  probe.remote = st.remote;
  probe.sink = st.sink;
  self->probe_as(st.ctx->actors, "session", st.id.value);
  spdlog::info("session={} opened from {}", st.id.value, st.remote);
  st.bucket.configure(st.ctx->lim.rate_per_s, st.ctx->lim.rate_burst, api::now_ms());
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
          api::tell(self, owner, api::session_up_atom::value, st.who.id, st.who.username,
                    api::untyped(place.local_hub()));
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
