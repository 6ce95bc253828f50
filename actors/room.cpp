#include "actors/room.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "actors/fanout.hpp"
#include "actors/idle.hpp"
#include "actors/room_change.hpp"
#include "api/atoms.hpp"
#include "api/clock.hpp"
#include "api/errors.hpp"
#include "api/hex.hpp"
#include "api/metrics.hpp"
#include "wire/codec.hpp"
#include "wire/events.hpp"

namespace confab::actors {

using api::errc;
using api::fail;

caf::error room_state::load(const api::room_id& id) {
  info.id = id;
  auto r = stores.rooms.room(id);
  if (!r) {
    if (api::describe(r.error()).code == errc::not_found)
      return caf::none;  // exists stays false
    return r.error();
  }
  auto m = stores.rooms.members(id);
  if (!m)
    return m.error();
  auto s = stores.log.last_seq(id);
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

using self_ptr = room_self*;

// One encoding, one shared buffer, one message per hub that has members of
// the room online (see interest.hpp). seq: the message's seq, 0 for other
// events; except: a user whose sessions skip it.
void emit(self_ptr self, std::string_view op, const std::string& data, api::seq_t seq = 0,
          const api::user_id& except = {}) {
  auto ev = wire::shared_event(op, data);
  auto targets = self->state.ctx->interest->of(self->state.info.id);
  auto& counters = api::node_metrics();
  counters.room_events.fetch_add(1, std::memory_order_relaxed);
  for (auto& hub : targets.hubs) {
    if (hub.node() != self->node())
      counters.remote_copies.fetch_add(1, std::memory_order_relaxed);
    send_text(self, hub, api::event_atom::value, ev, self->state.info.id, seq, except, targets.generation);
  }
}

// A notification for `user`, routed by their presence: to their sessions, or
// to the push webhook when they have none.
void notify(self_ptr self, const api::user_id& user, api::seq_t seq, const std::string& from, const char* reason,
            const std::optional<std::string>& preview) {
  auto data = wire::notification_json(self->state.info.id, seq, from, reason, preview);
  api::tell(self, self->state.ctx->place->presence(user), api::notify_atom::value, user, data);
}

// An encrypted message has no body: its notifications no preview.
void notify_message(self_ptr self, const api::send_request& req, api::seq_t seq, const std::string& body) {
  auto& st = self->state;
  auto preview = st.info.encrypted ? std::nullopt : std::optional<std::string>{body};
  if (st.info.kind == "dm") {
    for (auto& [user, role] : st.members)
      if (user != req.from.id)
        notify(self, user, seq, req.from.username, "dm", preview);
    return;
  }
  for (auto& name : mentions(body)) {
    if (name == req.from.username)
      continue;
    auto id = st.stores.users.user_id_of(name);
    if (id && st.is_member(*id))
      notify(self, *id, seq, req.from.username, "mention", body);
  }
}

// Every hub hears of the change (the user may be online anywhere); after a
// join every hub gets the room's events until it says it has nobody in it.
void tell_hubs_membership(self_ptr self, const api::user_id& user, bool joined) {
  auto hubs = self->state.ctx->place->hubs();
  if (joined)
    self->state.ctx->interest->add_all(self->state.info.id, hubs);
  for (auto& hub : hubs)
    api::tell(self, hub, api::membership_atom::value, self->state.info.id, user, joined);
}

// A room of more than --member-events-max members (invited ones count) does
// not send each join, leave or invite to every member, which would make
// filling it quadratic: the user concerned gets their `member` event, and the
// members get one `member_summary` a second with what changed. Not stored: a
// summary due when the room stops is not sent (clients page the member list).
constexpr std::size_t summary_names = 50;
constexpr auto summary_period = std::chrono::seconds(1);

bool big_room(const room_state& st) {
  return st.members.size() > st.ctx->lim.member_events_max;
}

// Members, not counting the invited.
std::size_t joined_members(const room_state& st) {
  std::size_t n = 0;
  for (auto& [user, role] : st.members)
    n += role != "invited" ? 1 : 0;
  return n;
}

// outside: the user concerned gets no room events (an invitee), so always
// gets theirs directly.
void member_event(self_ptr self, const api::user_id& user, const std::string& username, const char* action,
                  bool outside = false) {
  auto& st = self->state;
  auto data = wire::member_event_json(st.info.id, username, action);
  auto big = big_room(st);
  if (big || outside)
    to_user(self, st.ctx->place->hubs(), user, wire::shared_event("member", data));
  if (!big) {
    emit(self, "member", data);
    return;
  }
  if (st.member_changes.size() < summary_names)
    st.member_changes.emplace_back(username, action);
  ++st.member_changes_total;
  if (!st.summary_due) {
    st.summary_due = true;
    self->delayed_send(self, summary_period, api::summary_atom::value);
  }
}

void send_summary(self_ptr self) {
  auto& st = self->state;
  st.summary_due = false;
  if (st.member_changes_total == 0)
    return;
  emit(self, "member_summary",
       wire::member_summary_json(st.info.id, joined_members(st), st.member_changes,
                                 st.member_changes_total - st.member_changes.size()));
  st.member_changes.clear();
  st.member_changes_total = 0;
}

// What an encrypted room takes (PROTOCOL.md section 7): e2ee and no body,
// and only files uploaded encrypted (X-Encrypted); a room that is not
// encrypted takes neither e2ee nor an encrypted file.
caf::error check_encryption(const api::room_info& room, const api::send_request& req) {
  if (!room.encrypted) {
    if (!req.e2ee.empty())
      return fail(errc::invalid_request, "e2ee only in an encrypted room");
    if (req.encrypted_file)
      return fail(errc::invalid_request, "an encrypted file only in an encrypted room");
    return {};
  }
  if (!req.body.empty() || req.e2ee.empty())
    return fail(errc::invalid_request, "this room is end-to-end encrypted: send e2ee, not body");
  if (!req.file_id.empty() && !req.encrypted_file)
    return fail(errc::invalid_request, "a file in an encrypted room must be uploaded encrypted (X-Encrypted: 1)");
  return {};
}

// The ack of a message already in the log (a retried client_msg_id).
caf::expected<api::send_ack> replay_ack(self_ptr self, api::seq_t seq) {
  auto& st = self->state;
  auto text = st.stores.log.message(st.info.id, seq);
  if (!text)
    return text.error();
  return wire::stored_ack(st.info.id, seq, std::move(*text));
}

// Group commit (syncer.hpp): runs each waiting completion whose write the
// syncer's answer covers, in the order they were written.
void finish_waiting(self_ptr self, std::uint64_t covered, const caf::error& err) {
  auto& waiting = self->state.waiting;
  while (!waiting.empty() && waiting.front().first <= covered) {
    auto done = std::move(waiting.front().second);
    waiting.pop_front();
    done(err);
  }
}

// Runs `done` once every write so far is durable: at once without a syncer
// (--durability wal), else after the group commit that covers them.
void when_durable(self_ptr self, std::function<void(const caf::error&)> done) {
  auto& st = self->state;
  if (!st.ctx->syncer) {
    done(caf::none);
    return;
  }
  auto ticket = st.stores.db->written();
  st.waiting.emplace_back(ticket, std::move(done));
  self->request(st.ctx->syncer, std::chrono::seconds(30), api::fsync_atom::value, ticket)
      .then([self](std::uint64_t covered) { finish_waiting(self, covered, caf::none); },
            [self, ticket](caf::error& err) { finish_waiting(self, ticket, err); });
}

// Before the room stops (idle, handoff): what waits is made durable now.
void settle_waiting(self_ptr self) {
  auto& st = self->state;
  if (st.waiting.empty())
    return;
  auto covered = st.stores.db->written();
  auto err = st.stores.db->sync_wal();
  finish_waiting(self, covered, err);
}

constexpr auto write_timeout = std::chrono::seconds(5);

// An error or none, and whether the change is in this node's store (a
// failed fsync leaves it there: its retry finds it).
using done_fn = std::function<void(const caf::error&, bool)>;

// A broken room ends once nothing it started is in flight.
void end_if_broken(self_ptr self) {
  auto& st = self->state;
  if (st.broken && st.in_flight == 0 && st.waiting.empty())
    self->quit();
}

// Makes `change` durable, then runs `done`: with one copy it is written now
// (a message's ack waits for the group commit under --durability fsync);
// with more, once the replica has it on a majority and applied (an error:
// the room is broken, see room_state). The state the handler changed in
// memory stands for what is in flight.
void commit(self_ptr self, const room_change& change, done_fn done) {
  auto& st = self->state;
  if (!st.replica) {
    if (auto err = apply(st.stores.rooms, st.stores.log, st.info.id, change)) {
      st.broken = true;  // memory is ahead of the store: start again from it
      done(err, false);
      return end_if_broken(self);
    }
    if ((change.kind != room_change::message && change.kind != room_change::update) || !st.ctx->syncer)
      return done(caf::none, true);
    return when_durable(self, [done = std::move(done)](const caf::error& err) { done(err, true); });
  }
  ++st.in_flight;
  self->request(st.replica, write_timeout, api::write_atom::value, std::string{}, encode(change))
      .then(
          [self, done](std::uint64_t) {
            --self->state.in_flight;
            done(caf::none, true);
            end_if_broken(self);
          },
          [self, done](caf::error&) {
            auto& st = self->state;
            --st.in_flight;
            if (!st.broken) {
              st.broken = true;
              api::tell(self, st.replica, api::resign_atom::value);
            }
            done(fail(errc::unavailable, "the room's copies did not confirm the write: retry"), false);
            end_if_broken(self);
          });
}

// The newest text of message `seq` for member `who`: an update in flight,
// else the store.
caf::expected<std::string> member_message(self_ptr self, const api::caller& who, api::seq_t seq) {
  auto& st = self->state;
  if (!st.exists)
    return fail(errc::not_found, "no such room");
  if (!st.is_member(who.id))
    return fail(errc::not_member, "not a member of this room");
  if (seq == 0 || seq > st.last_seq)
    return fail(errc::not_found, "no such message");
  if (auto it = st.updating.find(seq); it != st.updating.end())
    return it->second.first;
  auto text = st.stores.log.message(st.info.id, seq);
  if (!text && api::describe(text.error()).code == errc::not_found)
    return fail(errc::unavailable, "the message is not stored yet; retry");
  return text;
}

// A write in flight that changes message `seq` to `text`.
void remember_update(self_ptr self, api::seq_t seq, const std::string& text) {
  auto& entry = self->state.updating[seq];
  entry.first = text;
  ++entry.second;
}

// The updates of a write that is settled: a message leaves the overlay once
// no write of it is in flight.
void forget_updates(self_ptr self, const std::vector<std::pair<api::seq_t, std::string>>& updates) {
  auto& updating = self->state.updating;
  for (auto& [seq, text] : updates)
    if (auto it = updating.find(seq); it != updating.end() && --it->second.second == 0)
      updating.erase(it);
}

// The root of the thread `seq` is in (a reply's thread is its root's) and
// its newest text, for member `who`.
caf::expected<std::pair<api::seq_t, std::string>> thread_root(self_ptr self, const api::caller& who, api::seq_t seq) {
  if (seq > self->state.last_seq)
    return fail(errc::invalid_request, "thread names no message of this room");
  auto text = member_message(self, who, seq);
  if (!text)
    return text.error();
  if (auto root = wire::thread_of(*text); root != 0) {
    seq = root;
    text = member_message(self, who, seq);
    if (!text)
      return text.error();
  }
  return std::make_pair(seq, std::move(*text));
}

std::string dedupe_key(const api::user_id& user, const std::string& client_msg_id) {
  return user.value + '\0' + client_msg_id;
}

caf::result<api::send_ack> handle_send(self_ptr self, api::send_request& req) {
  auto& st = self->state;
  if (!st.exists)
    return fail(errc::not_found, "no such room");
  if (!st.is_member(req.from.id))
    return fail(errc::not_member, "not a member of this room");
  auto key = req.client_msg_id.empty() ? std::string{} : dedupe_key(req.from.id, req.client_msg_id);
  if (!key.empty()) {
    if (auto first = st.sending.find(key); first != st.sending.end()) {
      // The first copy is in flight: its retry gets the same answer.
      auto rp = self->make_response_promise<api::send_ack>();
      first->second.push_back(rp);
      return rp;
    }
    auto seq = st.stores.log.dedupe(req.from.id, st.info.id, req.client_msg_id);
    if (seq) {
      auto ack = replay_ack(self, *seq);
      if (!ack || st.waiting.empty())
        return ack;
      // The first copy may still wait for its group commit: so does its retry.
      auto rp = self->make_response_promise<api::send_ack>();
      when_durable(self, [rp, ack = std::move(*ack)](const caf::error& err) mutable {
        if (err)
          rp.deliver(err);
        else
          rp.deliver(std::move(ack));
      });
      return rp;
    }
    if (api::describe(seq.error()).code != errc::not_found)
      return seq.error();
  }
  if (req.reply_to > st.last_seq)
    return fail(errc::invalid_request, "reply_to names no message of this room");
  // A reply in a thread: its root gets the new summary in the same write.
  std::vector<std::pair<api::seq_t, std::string>> rewrites;
  auto ts = api::now_ms();
  if (req.thread != 0) {
    auto root = thread_root(self, req.from, req.thread);
    if (!root)
      return root.error();
    auto added = wire::thread_added(root->second, st.last_seq + 1, req.from.username, ts);
    if (!added)
      return added.error();
    req.thread = root->first;
    rewrites.emplace_back(root->first, std::move(*added));
  }
  if (!req.file_id.empty() && req.attachment.empty())
    return fail(errc::invalid_request, "file_id names no file of this room");
  if (auto err = check_encryption(st.info, req))
    return err;
  auto attachment = std::move(req.attachment);
  wire::message_fields m{st.info.id,          st.last_seq + 1,   api::random_id("m_"), req.from.username,     ts,
                         std::move(req.body), req.client_msg_id, req.reply_to,         std::move(attachment), req.e2ee,
                         req.thread};
  auto text = wire::message_json(m);
  room_change change;
  change.kind = room_change::message;
  change.members.emplace_back(req.from.id, "");
  change.seq = m.seq;
  change.text = text;
  change.client_msg_id = req.client_msg_id;
  change.rewrites = rewrites;
  for (auto& [seq, text] : rewrites)
    remember_update(self, seq, text);
  st.last_seq = m.seq;
  if (!key.empty())
    st.sending[key];
  api::send_ack ack{st.info.id, m.seq, m.msg_id, m.ts, text};
  auto rp = self->make_response_promise<api::send_ack>();
  // Nobody hears of the message before it is durable: a message seen and
  // then lost would leave its seq to another.
  auto publish = [self, req = std::move(req), seq = m.seq, body = std::move(m.body), text = std::move(text),
                  rewrites = std::move(rewrites)] {
    api::node_metrics().messages_in.fetch_add(1, std::memory_order_relaxed);
    self->probe().n2.store(seq, std::memory_order_relaxed);
    emit(self, "message", text, seq);
    for (auto& [root, changed] : rewrites)
      emit(self, "message_update", wire::client_message(changed));
    // Sending ends typing, silently: the message says it.
    self->state.typing.erase(req.from.id);
    notify_message(self, req, seq, body);
  };
  commit(self, change,
         [self, rp, key, ack = std::move(ack), publish = std::move(publish), overlay = change.rewrites](
             const caf::error& err, bool stored) mutable {
           forget_updates(self, overlay);
           std::vector<caf::typed_response_promise<api::send_ack>> retries;
           if (auto it = self->state.sending.find(key); !key.empty() && it != self->state.sending.end()) {
             retries = std::move(it->second);
             self->state.sending.erase(it);
           }
           // A message in the store is seen even when its fsync failed (its
           // retry gets its seq); one that failed otherwise is not, and a
           // retry with the same client_msg_id finds it if it was written
           // after all, or writes it once.
           if (stored)
             publish();
           for (auto& p : retries) {
             if (err)
               p.deliver(err);
             else
               p.deliver(ack);
           }
           if (err)
             rp.deliver(err);
           else
             rp.deliver(std::move(ack));
         });
  return rp;
}

// -- edits and deletes (PROTOCOL.md section 8) -------------------------------

// Replaces message `seq` with `text` through the room's log, like a
// message (so it is ordered with them, replicated and durable before the
// answer), then pushes message_update. `then` runs once it is stored.
// rewrites: other messages replaced in the same write (a thread's root).
caf::result<std::string> update_message(self_ptr self, api::seq_t seq, std::string text,
                                        std::function<void()> then = {},
                                        std::vector<std::pair<api::seq_t, std::string>> rewrites = {}) {
  room_change change;
  change.kind = room_change::update;
  change.seq = seq;
  change.text = text;
  change.rewrites = std::move(rewrites);
  remember_update(self, seq, text);
  for (auto& [other, changed] : change.rewrites)
    remember_update(self, other, changed);
  auto written = change.rewrites;
  written.emplace_back(seq, text);
  auto rp = self->make_response_promise<std::string>();
  commit(self, change, [self, rp, written, then](const caf::error& err, bool stored) mutable {
    forget_updates(self, written);
    // The message itself is the last of `written`: its event goes first.
    auto shown = wire::client_message(written.back().second);
    if (stored) {
      emit(self, "message_update", shown);
      for (std::size_t i = 0; i + 1 < written.size(); ++i)
        emit(self, "message_update", wire::client_message(written[i].second));
      if (then)
        then();
    }
    if (err)
      rp.deliver(err);
    else
      rp.deliver(std::move(shown));
  });
  return rp;
}

caf::result<std::string> handle_edit(self_ptr self, const api::caller& who, api::seq_t seq, const std::string& body,
                                     const std::string& e2ee) {
  auto text = member_message(self, who, seq);
  if (!text)
    return text.error();
  // An encrypted room's edit is a new e2ee object (docs/E2EE.md).
  auto& st = self->state;
  if (st.info.encrypted && e2ee.empty())
    return fail(errc::invalid_request, "this room is end-to-end encrypted: edit with e2ee, not body");
  if (!st.info.encrypted && !e2ee.empty())
    return fail(errc::invalid_request, "e2ee only in an encrypted room");
  auto edited = wire::edited_message(*text, who.username, body, e2ee, api::now_ms());
  if (!edited)
    return edited.error();
  return update_message(self, seq, std::move(*edited));
}

// Thread `root`'s text counted again with reply `seq` as `text` (deleted).
caf::expected<std::string> recount_thread(self_ptr self, const api::caller& who, api::seq_t root, api::seq_t seq,
                                          const std::string& text) {
  auto root_text = member_message(self, who, root);
  if (!root_text)
    return root_text.error();
  std::vector<std::string> replies;
  for (auto reply : wire::thread_replies(*root_text)) {
    if (reply == seq) {
      replies.push_back(text);
      continue;
    }
    auto r = member_message(self, who, reply);
    if (!r)
      return r.error();
    replies.push_back(std::move(*r));
  }
  return wire::thread_recounted(*root_text, replies);
}

// Deleting a deleted message changes nothing and answers the same.
caf::result<std::string> handle_delete(self_ptr self, const api::caller& who, api::seq_t seq) {
  auto text = member_message(self, who, seq);
  if (!text)
    return text.error();
  auto d = wire::delete_message(*text, who.username, self->state.info.owner == who.id);
  if (!d)
    return d.error();
  if (!d->changed)
    return std::move(d->text);
  // A deleted reply leaves its thread's summary in the same write.
  std::vector<std::pair<api::seq_t, std::string>> rewrites;
  if (auto root = wire::thread_of(d->text); root != 0) {
    auto recounted = recount_thread(self, who, root, seq, d->text);
    if (!recounted)
      return recounted.error();
    rewrites.emplace_back(root, std::move(*recounted));
  }
  // Its file goes from its home and every other live node (where copies
  // are), once the delete is stored.
  auto drop_file = [self, file = d->file_id] {
    if (file.empty())
      return;
    auto& place = *self->state.ctx->place;
    if (auto home = place.file_home(file))
      api::tell(self, home, api::delete_atom::value, file);
    for (auto& m : place.file_peers(file))
      api::tell(self, m.readers, api::delete_atom::value, file);
  };
  return update_message(self, seq, std::move(d->text), drop_file, std::move(rewrites));
}

// Adding a reaction twice, or removing one that is not there, changes
// nothing and answers the message as it is.
caf::result<std::string> handle_react(self_ptr self, const api::caller& who, api::seq_t seq, const std::string& emoji,
                                      bool active) {
  auto text = member_message(self, who, seq);
  if (!text)
    return text.error();
  auto changed = wire::reacted_message(*text, who.username, emoji, active);
  if (!changed)
    return changed.error();
  if (!*changed)
    return wire::client_message(std::move(*text));
  return update_message(self, seq, std::move(**changed));
}

room_change member_change(const api::user_id& user, std::string role) {
  room_change c;
  c.kind = role.empty() ? room_change::leave : room_change::member;
  c.members.emplace_back(user, std::move(role));
  return c;
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
  st.members[who.id] = "member";
  auto rp = self->make_response_promise<api::room_info>();
  commit(self, member_change(who.id, "member"), [self, rp, who](const caf::error& err, bool) mutable {
    if (err) {
      rp.deliver(err);
      return;
    }
    auto& st = self->state;
    tell_hubs_membership(self, who.id, true);
    member_event(self, who.id, who.username, "joined");
    rp.deliver(st.info);
  });
  return rp;
}

caf::result<void> handle_leave(self_ptr self, const api::caller& who) {
  auto& st = self->state;
  if (!st.exists)
    return fail(errc::not_found, "no such room");
  if (!st.is_member(who.id))
    return fail(errc::not_member, "not a member of this room");
  if (st.info.kind == "dm")
    return fail(errc::forbidden, "a direct room can't be left");
  st.members.erase(who.id);
  auto rp = self->make_response_promise();
  commit(self, member_change(who.id, ""), [self, rp, who](const caf::error& err, bool) mutable {
    if (err) {
      rp.deliver(err);
      return;
    }
    // The leaver's sessions see their own leave, then stop getting events.
    member_event(self, who.id, who.username, "left");
    tell_hubs_membership(self, who.id, false);
    rp.deliver(caf::unit);
  });
  return rp;
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
  st.members[invitee.id] = "invited";
  auto rp = self->make_response_promise();
  commit(self, member_change(invitee.id, "invited"), [self, rp, who, invitee](const caf::error& err, bool) mutable {
    if (err) {
      rp.deliver(err);
      return;
    }
    auto& st = self->state;
    member_event(self, invitee.id, invitee.username, "invited", true);
    notify(self, invitee.id, 0, who.username, "invite", st.info.name);
    rp.deliver(caf::unit);
  });
  return rp;
}

std::string typing_event(const api::room_id& room, const std::string& username, bool active) {
  return wire::typing_event_json(room, username, active);
}

// Starts, refreshes or ends typing. Only starts and ends are events.
caf::result<void> handle_typing(self_ptr self, const api::caller& who, bool active) {
  auto& st = self->state;
  if (!st.exists)
    return fail(errc::not_found, "no such room");
  if (!st.is_member(who.id))
    return fail(errc::not_member, "not a member of this room");
  auto it = st.typing.find(who.id);
  if (!active) {
    if (it != st.typing.end()) {
      st.typing.erase(it);
      emit(self, "typing", typing_event(st.info.id, who.username, false), 0, who.id);
    }
    return caf::unit;
  }
  auto timeout = std::chrono::milliseconds(st.ctx->lim.typing_timeout_ms);
  if (it == st.typing.end())
    emit(self, "typing", typing_event(st.info.id, who.username, true), 0, who.id);
  st.typing[who.id] = {who.username, api::now_ms() + timeout.count()};
  self->delayed_send(self, timeout, api::expire_atom::value);
  return caf::unit;
}

// Ends every typing state whose time has come.
void expire_typing(self_ptr self) {
  auto& st = self->state;
  auto now = api::now_ms();
  for (auto it = st.typing.begin(); it != st.typing.end();) {
    if (it->second.second > now) {
      ++it;
      continue;
    }
    emit(self, "typing", typing_event(st.info.id, it->second.first, false), 0, it->first);
    it = st.typing.erase(it);
  }
}

// Moves the user's read marker forward (never back) and tells their sessions.
caf::result<api::seq_t, api::seq_t> handle_read(self_ptr self, const api::caller& who, api::seq_t seq) {
  auto& st = self->state;
  if (!st.exists)
    return fail(errc::not_found, "no such room");
  if (!st.is_member(who.id))
    return fail(errc::not_member, "not a member of this room");
  auto old = st.stores.log.last_read(who.id, st.info.id);
  if (!old)
    return old.error();
  if (auto it = st.reading.find(who.id); it != st.reading.end())
    *old = std::max(*old, it->second);  // a marker in flight counts
  auto marker = std::max(*old, std::min(seq, st.last_seq));
  if (marker == *old)
    return {marker, st.last_seq};
  st.reading[who.id] = marker;
  room_change change;
  change.kind = room_change::read;
  change.members.emplace_back(who.id, "");
  change.seq = marker;
  auto rp = self->make_response_promise<api::seq_t, api::seq_t>();
  commit(self, change, [self, rp, who, marker](const caf::error& err, bool) mutable {
    auto& st = self->state;
    if (auto it = st.reading.find(who.id); it != st.reading.end() && it->second == marker)
      st.reading.erase(it);
    if (err) {
      rp.deliver(err);
      return;
    }
    api::my_room counters{st.info, st.last_seq, marker, {}};
    to_user(self, self->state.ctx->place->hubs(), who.id,
            wire::shared_event("unread", wire::room_counters_json(counters).dump()));
    rp.deliver(marker, st.last_seq);
  });
  return rp;
}

// A new room (or direct room) with its members: every hub hears of them.
void created(self_ptr self) {
  // A replicated room is made by the actor that serves it: listed from now.
  if (self->probe().kind.empty())
    self->probe_as(self->state.ctx->actors, "room", self->state.info.id.value);
  for (auto& [user, role] : self->state.members)
    tell_hubs_membership(self, user, true);
}

// Makes the room (replicated rooms: the room manager made this actor for it).
caf::result<api::room_info> handle_create(self_ptr self, const api::room_info& info) {
  auto& st = self->state;
  if (st.exists)
    return fail(errc::conflict, "the room exists");
  room_change change;
  change.kind = room_change::create;
  change.room = info;
  change.members.emplace_back(info.owner, "owner");
  st.info = info;
  st.members[info.owner] = "owner";
  st.exists = true;
  auto rp = self->make_response_promise<api::room_info>();
  commit(self, change, [self, rp](const caf::error& err, bool) mutable {
    if (err) {
      rp.deliver(err);
      return;
    }
    created(self);
    rp.deliver(self->state.info);
  });
  return rp;
}

// The direct room of two users: created on first use with both as members.
// `encrypted` counts only then: a DM's encryption is fixed at creation.
caf::result<api::room_info> handle_dm(self_ptr self, const api::caller& a, const api::user_info& b, bool encrypted) {
  auto& st = self->state;
  if (st.exists)
    return st.info;
  auto first = std::min(a.username, b.username);
  auto second = std::max(a.username, b.username);
  room_change change;
  change.kind = room_change::create;
  change.room =
      api::room_info{st.info.id, first + ", " + second, "", "private", "dm", api::now_ms(), api::user_id{}, encrypted};
  change.members = {{a.id, "member"}, {b.id, "member"}};
  if (a.id == b.id)
    change.members.pop_back();
  st.info = change.room;
  st.exists = true;
  for (auto& [user, role] : change.members)
    st.members[user] = role;
  auto rp = self->make_response_promise<api::room_info>();
  commit(self, change, [self, rp, a = a.id, b = b.id](const caf::error& err, bool) mutable {
    if (err) {
      rp.deliver(err);
      return;
    }
    created(self);
    for (auto& hub : self->state.ctx->place->hubs())
      api::tell(self, hub, api::dm_atom::value, a, b);
    rp.deliver(self->state.info);
  });
  return rp;
}

}  // namespace

std::vector<std::string> mentions(const std::string& body) {
  std::vector<std::string> out;
  auto name_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  };
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '@' || (i > 0 && name_char(body[i - 1])))
      continue;
    std::size_t end = i + 1;
    while (end < body.size() && name_char(body[end]))
      ++end;
    auto name = body.substr(i + 1, end - i - 1);
    while (!name.empty() && name.back() == '.')
      name.pop_back();  // "@bob." ends a sentence
    if (name.size() >= 3 && name.size() <= 32 && std::find(out.begin(), out.end(), name) == out.end())
      out.push_back(name);
    i = end - 1;
  }
  return out;
}

// The numbers of the admin view's detail line (the seq is kept by sends).
void probe_room(self_ptr self) {
  auto& st = self->state;
  auto& p = self->probe();
  p.n1.store(joined_members(st), std::memory_order_relaxed);
  p.n2.store(st.last_seq, std::memory_order_relaxed);
  p.set_text({}, st.info.name);
}

api::room_actor::behavior_type room_actor(self_ptr self, api::room_id id, context_ptr ctx, room_stores stores,
                                          room_idle_reports manager, caf::actor replica) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.stores = std::move(stores);
  st.replica = std::move(replica);
  auto load_error = st.load(id);
  // A room that does not exist lives a moment to answer not_found: unlisted.
  if (st.exists) {
    self->probe_as(st.ctx->actors, "room", id.value);
    probe_room(self);
  }
  // A room that does not exist is kept only briefly: it answers not_found
  // (one made by this actor then gets the full period).
  auto idle = [self] {
    auto& lim = self->state.ctx->lim;
    return std::chrono::milliseconds(self->state.exists ? lim.room_idle_ms
                                                        : std::min<std::uint32_t>(lim.room_idle_ms, 1000));
  };
  start_idle_ticks(self, idle());
  // Counts a delegated message, then runs the handler (or answers the load error).
  auto counted = [self, load_error](auto&& handler) {
    ++self->state.handled;
    if (self->state.broken)
      return decltype(handler())(fail(errc::unavailable, "the room is starting again: retry"));
    return load_error ? decltype(handler())(load_error) : handler();
  };
  // The same, for changes of membership.
  auto changes_members = [self, counted](auto&& handler) {
    auto result = counted(handler);
    probe_room(self);
    return result;
  };
  return {
      [=](api::send_atom, api::send_request& req) -> caf::result<api::send_ack> {
        return counted([&] { return handle_send(self, req); });
      },
      [=](api::join_atom, const api::room_id&, const api::caller& who) -> caf::result<api::room_info> {
        return changes_members([&] { return handle_join(self, who); });
      },
      [=](api::leave_atom, const api::room_id&, const api::caller& who) -> caf::result<void> {
        return changes_members([&] { return handle_leave(self, who); });
      },
      [=](api::invite_atom, const api::room_id&, const api::caller& who, const api::user_info& invitee)
          -> caf::result<void> { return changes_members([&] { return handle_invite(self, who, invitee); }); },
      [=](api::dm_atom, const api::caller& a, const api::user_info& b, bool encrypted) -> caf::result<api::room_info> {
        return changes_members([&] { return handle_dm(self, a, b, encrypted); });
      },
      [=](api::create_atom, const api::room_info& info) -> caf::result<api::room_info> {
        return changes_members([&] { return handle_create(self, info); });
      },
      [=](api::typing_atom, const api::room_id&, const api::caller& who, bool active) -> caf::result<void> {
        return counted([&] { return handle_typing(self, who, active); });
      },
      [=](api::read_atom, const api::room_id&, const api::caller& who, api::seq_t seq)
          -> caf::result<api::seq_t, api::seq_t> { return counted([&] { return handle_read(self, who, seq); }); },
      [=](api::edit_atom, const api::room_id&, const api::caller& who, api::seq_t seq, const std::string& body,
          const std::string& e2ee) -> caf::result<std::string> {
        return counted([&] { return handle_edit(self, who, seq, body, e2ee); });
      },
      [=](api::delete_atom, const api::room_id&, const api::caller& who, api::seq_t seq) -> caf::result<std::string> {
        return counted([&] { return handle_delete(self, who, seq); });
      },
      [=](api::react_atom, const api::room_id&, const api::caller& who, api::seq_t seq, const std::string& emoji,
          bool active) -> caf::result<std::string> {
        return counted([&] { return handle_react(self, who, seq, emoji, active); });
      },
      [=](api::admin_atom, const api::room_id&) -> caf::result<api::room_admin> {
        return counted([&]() -> caf::result<api::room_admin> {
          auto& st = self->state;
          if (!st.exists)
            return fail(errc::not_found, "no such room");
          api::room_admin a;
          a.room = st.info.id;
          a.name = st.info.name;
          a.kind = st.info.kind;
          a.visibility = st.info.visibility;
          a.owner = st.ctx->node_id;
          a.last_seq = st.last_seq;
          a.mailbox = self->probe().mailbox();
          for (auto& [user, role] : st.members)
            if (role != "invited")
              a.member_ids.push_back(user);
          a.members = a.member_ids.size();
          if (!st.replica)
            return a;
          auto rp = self->make_response_promise<api::room_admin>();
          self->request(st.replica, write_timeout, api::admin_atom::value)
              .then(
                  [rp, a](const std::vector<std::string>& copies, std::uint64_t epoch) mutable {
                    for (auto& node : copies)
                      if (node != a.owner)
                        a.replicas.push_back(node);
                    a.epoch = epoch;
                    rp.deliver(std::move(a));
                  },
                  [rp](caf::error& err) mutable { rp.deliver(err); });
          return rp;
        });
      },
      // A hub that has nobody in this room any more.
      [=](api::uninterest_atom, const api::room_id&, const caf::actor& hub, std::uint64_t generation) {
        self->state.ctx->interest->remove(self->state.info.id, hub.address(), generation);
      },
      [=](api::expire_atom) { expire_typing(self); },
      // Idle, or its copy's epoch is over: it ends once nothing it started
      // is in flight (and answers nothing new meanwhile).
      [=](api::retire_atom) {
        settle_waiting(self);
        self->state.broken = true;
        end_if_broken(self);
      },
      // The room moves to another node: everything before this is handled.
      [=](api::handoff_atom) {
        settle_waiting(self);
        self->quit();
        return true;
      },
      [=](api::summary_atom) { send_summary(self); },
      [=](api::tick_atom) {
        auto& st = self->state;
        if (!st.waiting.empty() || st.in_flight > 0 || st.summary_due)
          return start_idle_ticks(self, idle());  // not idle while acks wait for a group commit or the copies
        if (!st.exists) {
          // Holds nothing: it goes at the first tick with nothing in flight
          // to it (the manager checks), however often it is asked. A client
          // that retried faster than the idle period kept one alive, answering
          // not_found for a room that had moved here or away meanwhile.
          self->send(manager, api::idle_atom::value, st.info.id, st.handled);
          return start_idle_ticks(self, idle());
        }
        idle_tick(self, idle(), st.handled, st.handled_at_tick,
                  [&] { self->send(manager, api::idle_atom::value, st.info.id, st.handled); });
      },
  };
}

}  // namespace confab::actors
