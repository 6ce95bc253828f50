#include "actors/room.hpp"

#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/api/atoms.hpp"
#include "actors/api/errors.hpp"
#include "wire/codec.hpp"

namespace confab::actors {

using api::errc;
using api::fail;

caf::error room_state::load(const api::room_id& id) {
  info.id = id;
  auto r = ctx->db->room(id);
  if (!r) {
    if (api::describe(r.error()).code == errc::not_found)
      return caf::none;  // exists stays false
    return r.error();
  }
  auto m = ctx->db->members(id);
  if (!m)
    return m.error();
  auto s = ctx->db->last_seq(id);
  if (!s)
    return s.error();
  info = std::move(*r);
  members = std::move(*m);
  last_seq = *s;
  exists = true;
  return caf::none;
}

bool room_state::is_member(const api::user_id& user) const {
  auto it = members.find(user);
  return it != members.end() && it->second != "invited";
}

namespace {

using self_ptr = caf::stateful_actor<room_state>*;

std::string member_event(const api::room_id& room, const std::string& username, const char* action) {
  return wire::json{{"room", room.value}, {"user", username}, {"action", action}}.dump();
}

// One encoding, one shared buffer, one message per hub. seq: the message's
// seq, 0 for other events.
void emit(self_ptr self, std::string_view op, const std::string& data, api::seq_t seq = 0) {
  auto ev = wire::shared_event(op, data);
  for (auto& hub : self->state.ctx->place->hubs())
    self->send(hub, api::event_atom::value, self->state.info.id, seq, ev);
}

void tell_hubs_membership(self_ptr self, const api::user_id& user, bool joined) {
  for (auto& hub : self->state.ctx->place->hubs())
    self->send(hub, api::membership_atom::value, self->state.info.id, user, joined);
}

// The ack of a message already in the log (a retried client_msg_id).
caf::result<api::send_ack> replay_ack(self_ptr self, api::seq_t seq) {
  auto& st = self->state;
  auto text = st.ctx->db->message(st.info.id, seq);
  if (!text)
    return text.error();
  auto j = wire::json::parse(*text, nullptr, false);
  if (j.is_discarded())
    return fail(errc::unavailable, "stored message unreadable");
  return api::send_ack{st.info.id, seq, j.value("msg_id", ""), j.value("ts", std::int64_t{0}), std::move(*text)};
}

caf::result<api::send_ack> handle_send(self_ptr self, api::send_request& req) {
  auto& st = self->state;
  if (!st.exists)
    return fail(errc::not_found, "no such room");
  if (!st.is_member(req.from.id))
    return fail(errc::not_member, "not a member of this room");
  if (!req.client_msg_id.empty()) {
    auto seq = st.ctx->db->dedupe(req.from.id, st.info.id, req.client_msg_id);
    if (seq)
      return replay_ack(self, *seq);
    if (api::describe(seq.error()).code != errc::not_found)
      return seq.error();
  }
  if (req.reply_to > st.last_seq)
    return fail(errc::invalid_request, "reply_to names no message of this room");
  wire::message_fields m{st.info.id, st.last_seq + 1,     random_id("m_"),   req.from.username,
                         now_ms(),   std::move(req.body), req.client_msg_id, req.reply_to};
  auto text = wire::message_json(m);
  if (auto err = st.ctx->db->append({st.info.id, m.seq, text, req.from.id, req.client_msg_id}))
    return err;
  st.last_seq = m.seq;
  emit(self, "message", text, m.seq);
  return api::send_ack{st.info.id, m.seq, m.msg_id, m.ts, std::move(text)};
}

caf::result<api::room_info> handle_join(self_ptr self, const api::caller& who) {
  auto& st = self->state;
  if (!st.exists)
    return fail(errc::not_found, "no such room");
  if (st.is_member(who.id))
    return st.info;
  auto it = st.members.find(who.id);
  bool invited = it != st.members.end();
  if (st.info.kind == "dm" || (st.info.visibility != "public" && !invited))
    return fail(errc::forbidden, "this room needs an invite");
  if (auto err = st.ctx->db->set_member(st.info.id, who.id, "member"))
    return err;
  st.members[who.id] = "member";
  tell_hubs_membership(self, who.id, true);
  emit(self, "member", member_event(st.info.id, who.username, "joined"));
  return st.info;
}

caf::result<void> handle_leave(self_ptr self, const api::caller& who) {
  auto& st = self->state;
  if (!st.exists)
    return fail(errc::not_found, "no such room");
  if (!st.is_member(who.id))
    return fail(errc::not_member, "not a member of this room");
  if (st.info.kind == "dm")
    return fail(errc::forbidden, "a direct room can't be left");
  if (auto err = st.ctx->db->remove_member(st.info.id, who.id))
    return err;
  st.members.erase(who.id);
  // The leaver's sessions see their own leave, then stop getting events.
  emit(self, "member", member_event(st.info.id, who.username, "left"));
  tell_hubs_membership(self, who.id, false);
  return caf::unit;
}

caf::result<void> handle_invite(self_ptr self, const api::caller& who, const api::user_info& invitee) {
  auto& st = self->state;
  if (!st.exists)
    return fail(errc::not_found, "no such room");
  if (!st.is_member(who.id))
    return fail(errc::not_member, "only members can invite");
  if (st.info.kind == "dm")
    return fail(errc::forbidden, "nobody can be invited into a direct room");
  if (st.members.count(invitee.id) > 0)
    return caf::unit;
  if (auto err = st.ctx->db->set_member(st.info.id, invitee.id, "invited"))
    return err;
  st.members[invitee.id] = "invited";
  auto data = member_event(st.info.id, invitee.username, "invited");
  emit(self, "member", data);
  self->send(st.ctx->place->local_hub(), api::user_event_atom::value, invitee.id, wire::shared_event("member", data));
  return caf::unit;
}

// The direct room of two users: created on first use with both as members.
caf::result<api::room_info> handle_dm(self_ptr self, const api::caller& a, const api::user_info& b) {
  auto& st = self->state;
  if (st.exists)
    return st.info;
  auto first = std::min(a.username, b.username);
  auto second = std::max(a.username, b.username);
  api::room_info info{st.info.id, first + ", " + second, "", "private", "dm", now_ms(), api::user_id{}};
  std::vector<std::pair<api::user_id, std::string>> members{{a.id, "member"}, {b.id, "member"}};
  if (a.id == b.id)
    members.pop_back();
  if (auto err = st.ctx->db->put_room(info, members))
    return err;
  st.info = info;
  st.exists = true;
  for (auto& [user, role] : members) {
    st.members[user] = role;
    tell_hubs_membership(self, user, true);
  }
  return st.info;
}

}  // namespace

caf::behavior room_actor(self_ptr self, api::room_id id, context_ptr ctx, caf::actor manager) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  auto load_error = st.load(id);
  // A room that does not exist is kept only briefly: it answers not_found.
  auto idle = std::chrono::milliseconds(st.exists ? st.ctx->lim.room_idle_ms
                                                  : std::min<std::uint32_t>(st.ctx->lim.room_idle_ms, 1000));
  // Counts a delegated message, then runs the handler (or answers the load error).
  auto counted = [self, load_error](auto&& handler) {
    ++self->state.handled;
    return load_error ? decltype(handler())(load_error) : handler();
  };
  return {
      [=](api::send_atom, api::send_request& req) -> caf::result<api::send_ack> {
        return counted([&] { return handle_send(self, req); });
      },
      [=](api::join_atom, const api::room_id&, const api::caller& who) -> caf::result<api::room_info> {
        return counted([&] { return handle_join(self, who); });
      },
      [=](api::leave_atom, const api::room_id&, const api::caller& who) -> caf::result<void> {
        return counted([&] { return handle_leave(self, who); });
      },
      [=](api::invite_atom, const api::room_id&, const api::caller& who, const api::user_info& invitee)
          -> caf::result<void> { return counted([&] { return handle_invite(self, who, invitee); }); },
      [=](api::dm_atom, const api::caller& a, const api::user_info& b) -> caf::result<api::room_info> {
        return counted([&] { return handle_dm(self, a, b); });
      },
      [=](api::retire_atom) { self->quit(); },
      caf::after(idle) >> [=] { self->send(manager, api::idle_atom::value, self->state.info.id, self->state.handled); },
  };
}

}  // namespace confab::actors
