#include "actors/account.hpp"

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>
#include <caf/event_based_actor.hpp>

#include "actors/fanout.hpp"
#include "actors/passwords.hpp"
#include "actors/tokens.hpp"
#include "api/atoms.hpp"
#include "api/clock.hpp"
#include "api/errors.hpp"
#include "api/hex.hpp"
#include "api/probe.hpp"
#include "wire/codec.hpp"
#include "wire/commands.hpp"

namespace confab::actors {

using api::errc;
using api::fail;

std::string check_username(const std::string& name) {
  if (name.size() < 3 || name.size() > 32)
    return "username must have 3-32 characters";
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
      return "username may only use a-z, 0-9, _, . and -";
  return {};
}

std::string check_password(const std::string& pw) {
  auto n = wire::code_points(pw);
  if (n < 8 || n > 256)
    return "password must have 8-256 characters";
  return {};
}

caf::expected<storage::stored_user*> account_state::user(const api::user_id& id) {
  if (auto it = users.find(id); it != users.end())
    return &it->second;
  auto u = user_db.user(id);
  if (!u)
    return u.error();
  return &(users[id] = std::move(*u));
}

void account_state::remember(const storage::stored_user& u) {
  users[u.info.id] = u;
}

caf::error account_state::take_copy(const storage::stored_user& u) {
  if (auto mine = user(u.info.id); mine && (*mine)->version > u.version)
    return caf::none;  // ours is newer: this copy is stale
  if (auto err = user_db.put_user(u, true))
    return err;
  remember(u);
  return caf::none;
}

caf::expected<api::token_claims> account_state::check_token(const std::string& token) {
  auto c = tokens::verify(secret, token, api::now_ms());
  if (!c)
    return c;
  if (revoked.count(c->jti) > 0)
    return fail(errc::unauthorized, "token revoked");
  auto u = user(c->who.id);
  if (!u)
    return fail(errc::unauthorized, "unknown user");
  if (c->issued_at < (*u)->tokens_valid_after && c->jti != (*u)->keep_jti)
    return fail(errc::unauthorized, "token revoked");
  return c;
}

namespace {

using self_ptr = account_self*;
constexpr std::uint32_t sync_page = 500;

// The account actor of another live member, with the messages account
// actors send each other (a card names the part other modules use).
account_interface peer(const cluster::member_card& m) {
  return caf::actor_cast<account_interface>(m.accounts);
}

// Every account actor keeps every user (a replicated table): the owner of a
// username makes each change, then sends the record to the other nodes, so
// logins, token checks and lookups are answered on any node.
void replicate(self_ptr self, const storage::stored_user& u) {
  for (auto& m : self->state.ctx->place->current()->live)
    if (m.accounts.address() != self->address())
      self->send(peer(m), api::replicate_atom::value, u);
}

void replicate_revoke(self_ptr self, const api::user_id& user, const std::string& jti, std::int64_t expires_at) {
  for (auto& m : self->state.ctx->place->current()->live)
    if (m.accounts.address() != self->address())
      self->send(peer(m), api::revoke_atom::value, user, jti, expires_at);
}

// The user's open sockets on this node whose token no longer holds close
// (PROTOCOL.md section 10): the hub relays to their sessions.
void close_revoked(self_ptr self, const api::user_id& user, const std::string& jti) {
  api::tell(self, self->state.ctx->place->local_hub(), api::revoke_atom::value, user, jti);
}

void close_older_tokens(self_ptr self, const storage::stored_user& u) {
  api::tell(self, self->state.ctx->place->local_hub(), api::revoke_atom::value, u.info.id, u.tokens_valid_after,
            u.keep_jti);
}

// Wakes the actor when the earliest revocation expires (unless a wake-up at
// or before it is already due).
void schedule_prune(self_ptr self) {
  auto& st = self->state;
  if (st.revoked_by_expiry.empty())
    return;
  auto at = st.revoked_by_expiry.begin()->first;
  if (st.prune_at != 0 && st.prune_at <= at)
    return;
  st.prune_at = at;
  auto wait = std::max<std::int64_t>(0, at - api::now_ms());
  self->delayed_send(self, std::chrono::milliseconds(wait), api::expire_atom::value, at);
}

// An expired token fails verification anyway: its revocation is forgotten,
// in memory and in the store.
void prune_revoked(self_ptr self) {
  auto& st = self->state;
  auto now = api::now_ms();
  std::vector<std::string> gone;
  while (!st.revoked_by_expiry.empty() && st.revoked_by_expiry.begin()->first <= now) {
    auto node = st.revoked_by_expiry.extract(st.revoked_by_expiry.begin());
    st.revoked.erase(node.value().second);
    gone.push_back(std::move(node.value().second));
  }
  if (auto err = st.user_db.forget_revoked(gone))
    spdlog::warn("account actor: expired revocations not removed from the store: {}", api::describe(err).message);
}

void remember_revoked(self_ptr self, const std::string& jti, std::int64_t expires_at) {
  auto& st = self->state;
  auto [it, added] = st.revoked.emplace(jti, expires_at);
  if (!added)
    return;
  st.revoked_by_expiry.emplace(expires_at, jti);
  schedule_prune(self);
}

caf::error revoke_here(self_ptr self, const std::string& jti, std::int64_t expires_at) {
  if (expires_at <= api::now_ms())
    return caf::none;  // expired already: nothing to remember
  if (auto err = self->state.user_db.revoke(jti, expires_at))
    return err;
  remember_revoked(self, jti, expires_at);
  return caf::none;
}

// Starts queued hashing jobs while a hasher of their lane is idle.
void run_hash_jobs(account_state::hash_lane& lane) {
  while (!lane.idle.empty() && !lane.waiting.empty()) {
    auto job = std::move(lane.waiting.front());
    lane.waiting.pop_front();
    auto hasher = std::move(lane.idle.back());
    lane.idle.pop_back();
    job(std::move(hasher));
  }
}

// Queues `xs` for a hasher (a check, or a registration's hash when `bulk`)
// and calls on_ok or on_err with its answer. A full queue answers at once
// with 503 unavailable and when to retry.
template <class R, class OnOk, class OnErr, class... Ts>
void hash_job(self_ptr self, bool bulk, OnOk on_ok, OnErr on_err, Ts... xs) {
  auto& st = self->state;
  auto& lane = bulk ? st.registrations : st.checks;
  if (lane.waiting.size() >= (bulk ? max_waiting_registrations : max_waiting_checks)) {
    auto wait = static_cast<std::uint64_t>(st.hash_ms) * (lane.waiting.size() + 1) / lane.threads;
    return on_err(
        fail(errc::unavailable,
             bulk ? "too many registrations at once: try again later" : "too many logins at once: try again later",
             std::max<std::uint64_t>(wait, 100)));
  }
  lane.waiting.push_back([=](api::hasher_actor hasher) {
    auto started = api::now_ms();
    auto finished = [self, started, bulk, hasher] {
      auto& st = self->state;
      st.hash_ms = (st.hash_ms * 7 + std::max<std::int64_t>(1, api::now_ms() - started)) / 8;
      auto& lane = bulk ? st.registrations : st.checks;
      lane.idle.push_back(hasher);
      run_hash_jobs(lane);
    };
    self->request(hasher, std::chrono::minutes(1), xs...)
        .then(
            [=](R r) mutable {
              finished();
              on_ok(r);
            },
            [=](caf::error& err) mutable {
              finished();
              on_err(err);
            });
  });
  run_hash_jobs(lane);
}

// Copies the revocations from `source`, page by page, then answers `users`.
void sync_revoked_from(self_ptr self, caf::actor source, std::string after, std::uint64_t users,
                       caf::response_promise rp) {
  self->request(source, std::chrono::seconds(10), api::sync_atom::value, api::revoke_atom::value, after, sync_page)
      .then(
          [=](const std::vector<std::string>& jtis, const std::vector<std::int64_t>& expiries) mutable {
            if (jtis.size() != expiries.size())
              return rp.deliver(fail(errc::invalid_request, "malformed page of revocations"));
            for (std::size_t i = 0; i < jtis.size(); ++i)
              if (auto err = revoke_here(self, jtis[i], expiries[i]))
                return rp.deliver(err);
            if (jtis.size() >= sync_page)
              return sync_revoked_from(self, source, jtis.back(), users, rp);
            rp.deliver(users);
          },
          [=](caf::error& err) mutable { rp.deliver(err); });
}

// Copies every user (page by page), then the revocations, from `source`.
void sync_from(self_ptr self, caf::actor source, std::string after, std::uint64_t copied, caf::response_promise rp) {
  self->request(source, std::chrono::seconds(10), api::sync_atom::value, after, sync_page)
      .then(
          [=](const std::vector<storage::stored_user>& page) mutable {
            for (auto& u : page)
              if (auto err = self->state.take_copy(u))
                return rp.deliver(err);
            if (page.size() == sync_page)
              return sync_from(self, source, page.back().info.id.value, copied + page.size(), rp);
            sync_revoked_from(self, source, "", copied + page.size(), rp);
          },
          [=](caf::error& err) mutable { rp.deliver(err); });
}

api::login_result issue_token(self_ptr self, const storage::stored_user& u) {
  auto now = api::now_ms();
  api::token_claims c{{u.info.id, u.info.username},
                      api::random_id("t_"),
                      now,
                      now + static_cast<std::int64_t>(self->state.ctx->lim.token_ttl_s) * 1000};
  return {tokens::sign(self->state.secret, c), c.expires_at, u.info};
}

// username_taken if the name is stored or being registered, the store's
// error if it cannot tell, else none.
caf::error name_taken(self_ptr self, const std::string& username) {
  auto& st = self->state;
  auto existing = st.user_db.user_id_of(username);
  if (existing || st.pending_names.count(username) > 0)
    return fail(errc::username_taken, "username is taken");
  if (api::describe(existing.error()).code != errc::not_found)
    return existing.error();
  return caf::none;
}

// Stores a new user (its name checked and reserved by the caller), keeps it
// here and tells the other nodes.
caf::expected<storage::stored_user> create_user(self_ptr self, const std::string& username,
                                                const std::string& display_name, const std::string& hash) {
  storage::stored_user u;
  u.info = {api::user_id{api::random_id("u_")}, username, display_name, "", ""};
  u.password_hash = hash;
  u.created_at = api::now_ms();
  u.version = 1;
  if (auto err = self->state.user_db.put_user(u, true))
    return err;
  self->state.remember(u);
  replicate(self, u);
  return u;
}

caf::result<api::user_info> do_register(self_ptr self, const std::string& username, const std::string& password,
                                        const std::string& display_name) {
  auto& st = self->state;
  if (auto why = check_username(username); !why.empty())
    return fail(errc::invalid_request, why);
  if (auto why = check_password(password); !why.empty())
    return fail(errc::invalid_request, why);
  auto dn = display_name.empty() ? username : display_name;
  if (wire::code_points(dn) > 64)
    return fail(errc::invalid_request, "display_name must have 1-64 characters");
  if (auto err = name_taken(self, username))
    return err;
  st.pending_names.insert(username);
  auto rp = self->make_response_promise<api::user_info>();
  auto id = ++st.registrations_started;
  st.registering[username] = {id, rp};
  self->delayed_send(self, std::chrono::milliseconds(registration_deadline_ms), api::timeout_atom::value,
                     api::register_atom::value, username, id);
  // The registration's answer, unless its deadline has answered it.
  auto take = [self, username, id]() -> std::optional<caf::typed_response_promise<api::user_info>> {
    auto& st = self->state;
    auto it = st.registering.find(username);
    if (it == st.registering.end() || it->second.first != id)
      return std::nullopt;
    auto answer = std::move(it->second.second);
    st.registering.erase(it);
    st.pending_names.erase(username);
    return answer;
  };
  hash_job<std::string>(
      self, true,
      [=](const std::string& hash) mutable {
        auto answer = take();
        if (!answer)
          return;
        if (auto u = create_user(self, username, dn, hash))
          answer->deliver(u->info);
        else
          answer->deliver(u.error());
      },
      [=](const caf::error& err) mutable {
        if (auto answer = take())
          answer->deliver(err);
      },
      api::hash_atom::value, password);
  return rp;
}

// Many users at once with one password, hashed once (benchmarks): all or
// none are made, and each gets a token as from a login.
caf::result<std::vector<api::login_result>> do_register_many(self_ptr self, const std::vector<std::string>& usernames,
                                                             const std::string& password) {
  auto& st = self->state;
  if (auto why = check_password(password); !why.empty())
    return fail(errc::invalid_request, why);
  std::set<std::string> seen;
  for (auto& name : usernames) {
    if (auto why = check_username(name); !why.empty())
      return fail(errc::invalid_request, why);
    if (!seen.insert(name).second)
      return fail(errc::invalid_request, "usernames must differ");
    if (auto err = name_taken(self, name))
      return err;
  }
  st.pending_names.insert(seen.begin(), seen.end());
  auto rp = self->make_response_promise<std::vector<api::login_result>>();
  auto forget = [self, seen] {
    for (auto& name : seen)
      self->state.pending_names.erase(name);
  };
  hash_job<std::string>(
      self, true,
      [=](const std::string& hash) mutable {
        forget();
        std::vector<api::login_result> out;
        out.reserve(usernames.size());
        for (auto& name : usernames) {
          auto u = create_user(self, name, name, hash);
          if (!u) {
            rp.deliver(u.error());
            return;
          }
          out.push_back(issue_token(self, *u));
        }
        rp.deliver(std::move(out));
      },
      [=](const caf::error& err) mutable {
        forget();
        rp.deliver(err);
      },
      api::hash_atom::value, password);
  return rp;
}

caf::result<api::login_result> do_login(self_ptr self, const std::string& username, const std::string& password,
                                        const std::string& remote) {
  auto& st = self->state;
  auto now = api::now_ms();
  if (auto wait = st.ip_attempts.wait_ms(remote, now); wait > 0)
    return fail(errc::rate_limited, "too many login attempts from this address", static_cast<std::uint64_t>(wait));
  if (auto wait = st.user_failures.wait_ms(username, now); wait > 0)
    return fail(errc::rate_limited, "too many failed logins for this username", static_cast<std::uint64_t>(wait));
  st.ip_attempts.record(remote, now);
  std::string hash = st.dummy_hash;
  api::user_id id;
  if (auto uid = st.user_db.user_id_of(username)) {
    auto u = st.user(*uid);
    if (!u)
      return u.error();
    hash = (*u)->password_hash;
    id = *uid;
  } else if (api::describe(uid.error()).code != errc::not_found) {
    return uid.error();
  }
  auto rp = self->make_response_promise<api::login_result>();
  hash_job<bool>(
      self, false,
      [=](bool ok) mutable {
        auto& st = self->state;
        if (!ok || id.empty()) {
          st.user_failures.record(username, api::now_ms());
          rp.deliver(fail(errc::invalid_credentials, "wrong username or password"));
          return;
        }
        st.user_failures.clear(username);
        auto u = st.user(id);
        if (!u) {
          rp.deliver(u.error());
          return;
        }
        rp.deliver(issue_token(self, **u));
      },
      [=](const caf::error& err) mutable { rp.deliver(err); }, api::check_atom::value, hash, password);
  return rp;
}

// Applies `change` to a copy of user `id`'s record, stores it and sends it
// to every node; the error of any step, and then nothing changed.
caf::error change_user(self_ptr self, const api::user_id& id,
                       const std::function<caf::error(storage::stored_user&)>& change) {
  auto u = self->state.user(id);
  if (!u)
    return u.error();
  auto updated = **u;
  if (auto err = change(updated))
    return err;
  ++updated.version;
  if (auto err = self->state.user_db.put_user(updated, false))
    return err;
  **u = std::move(updated);
  replicate(self, **u);
  return {};
}

caf::result<void> do_password(self_ptr self, const api::token_claims& who, const std::string& old_pw,
                              const std::string& new_pw) {
  if (auto why = check_password(new_pw); !why.empty())
    return fail(errc::invalid_request, "new_password: " + why);
  auto u = self->state.user(who.who.id);
  if (!u)
    return u.error();
  auto old_hash = (*u)->password_hash;
  auto rp = self->make_response_promise<void>();
  auto failed = [=](const caf::error& err) mutable { rp.deliver(err); };
  auto store = [=](const std::string& hash) mutable {
    auto err = change_user(self, who.who.id, [&](storage::stored_user& u) -> caf::error {
      u.password_hash = hash;
      u.tokens_valid_after = api::now_ms() + 1;  // every earlier token, ...
      u.keep_jti = who.jti;                      // ... except the caller's
      return {};
    });
    if (err) {
      rp.deliver(err);
      return;
    }
    close_older_tokens(self, **self->state.user(who.who.id));
    static_cast<caf::response_promise&>(rp).deliver(caf::unit);
  };
  hash_job<bool>(
      self, false,
      [=](bool ok) mutable {
        if (ok)
          hash_job<std::string>(self, false, store, failed, api::hash_atom::value, new_pw);
        else
          rp.deliver(fail(errc::forbidden, "old_password is wrong"));
      },
      failed, api::check_atom::value, old_hash, old_pw);
  return rp;
}

// This node's copy of the account of `username`.
caf::expected<storage::stored_user*> user_named(self_ptr self, const std::string& username) {
  auto id = self->state.user_db.user_id_of(username);
  if (!id)
    return fail(errc::not_found, "no such user");
  return self->state.user(*id);
}

caf::result<api::user_info> do_profile(self_ptr self, const api::user_id& id, const api::profile_patch& p) {
  auto err = change_user(self, id, [&](storage::stored_user& u) -> caf::error {
    if (p.set_display_name)
      u.info.display_name = p.display_name;
    if (p.set_status_text)
      u.info.status_text = p.status_text;
    if (p.set_avatar)
      u.info.avatar_file_id = p.avatar_file_id;
    return {};
  });
  if (err)
    return err;
  return (*self->state.user(id))->info;
}

// Publishes or replaces one device's keys in the key directory.
caf::error put_device(self_ptr self, const api::user_id& id, api::device_key d) {
  return change_user(self, id, [&](storage::stored_user& u) -> caf::error {
    d.updated_at = api::now_ms();
    auto it = std::find_if(u.devices.begin(), u.devices.end(),
                           [&](const api::device_key& k) { return k.device_id == d.device_id; });
    if (it != u.devices.end()) {
      *it = std::move(d);
      return {};
    }
    if (u.devices.size() >= max_devices)
      return fail(errc::invalid_request, "at most " + std::to_string(max_devices) + " devices; delete one first");
    u.devices.push_back(std::move(d));
    std::sort(u.devices.begin(), u.devices.end(),
              [](const api::device_key& a, const api::device_key& b) { return a.device_id < b.device_id; });
    return {};
  });
}

caf::error delete_device(self_ptr self, const api::user_id& id, const std::string& device_id) {
  return change_user(self, id, [&](storage::stored_user& u) -> caf::error {
    auto it = std::find_if(u.devices.begin(), u.devices.end(),
                           [&](const api::device_key& k) { return k.device_id == device_id; });
    if (it == u.devices.end())
      return fail(errc::not_found, "no such device");
    u.devices.erase(it);
    return {};
  });
}

// Tells `id`'s DM partners and the members of their encrypted rooms (and
// the user's own sessions) that the user's device list changed: the keys
// event, once to each of them, however many rooms they share.
void announce_keys(self_ptr self, const api::user_id& id) {
  auto u = self->state.user(id);
  if (!u)
    return;
  auto event = wire::shared_event("keys", wire::keys_event_json((*u)->info.username, (*u)->devices));
  auto place = self->state.ctx->place;
  auto failed = [id](const caf::error& err) {
    spdlog::warn("account actor: keys event of user {} not sent to all: {}", id.value, api::describe(err).message);
  };
  self->request(place->reader(), std::chrono::seconds(10), api::my_rooms_atom::value, id, caf::actor{})
      .then(
          [=](const std::vector<api::my_room>& rooms) {
            auto to = std::make_shared<std::set<api::user_id>>(std::set<api::user_id>{id});
            std::vector<api::room_id> sealed;
            for (auto& r : rooms) {
              if (!r.partner.empty())
                to->insert(r.partner);
              else if (r.room.encrypted)
                sealed.push_back(r.room.id);
            }
            // The last of the member lists (or the rooms, if none) sends.
            auto left = std::make_shared<std::size_t>(sealed.size() + 1);
            auto one_done = [=] {
              if (--*left > 0)
                return;
              auto hubs = place->hubs();
              for (auto& user : *to)
                to_user(self, hubs, user, event);
            };
            for (auto& room : sealed)
              self->request(place->room(room), std::chrono::seconds(10), api::members_atom::value, room, id)
                  .then(
                      [=](const std::vector<api::member_entry>& members) {
                        for (auto& m : members)
                          to->insert(m.user.id);
                        one_done();
                      },
                      [=](const caf::error& err) {
                        failed(err);
                        one_done();
                      });
            one_done();
          },
          failed);
}

}  // namespace

account_interface::behavior_type account_actor(self_ptr self, context_ptr ctx, storage::user_store users,
                                               std::string secret, std::vector<api::hasher_actor> check_hashers,
                                               std::vector<api::hasher_actor> registration_hashers) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.user_db = std::move(users);
  st.secret = std::move(secret);
  self->probe_as(st.ctx->actors, "account", "account");
  api::log_stray_errors(self, "account actor");
  st.user_failures.configure(st.ctx->lim.login_user_failures, std::int64_t{st.ctx->lim.login_user_window_s} * 1000);
  st.ip_attempts.configure(st.ctx->lim.login_ip_attempts, std::int64_t{st.ctx->lim.login_ip_window_s} * 1000);
  if (auto pruned = st.user_db.prune_revoked(api::now_ms()); !pruned)
    spdlog::warn("account actor: expired revocations not pruned: {}", api::describe(pruned.error()).message);
  if (auto r = st.user_db.revoked(api::now_ms()))
    for (auto& [jti, exp] : *r)
      remember_revoked(self, jti, exp);
  auto staff = [self](account_state::hash_lane& lane, std::vector<api::hasher_actor> hashers) {
    for (auto& h : hashers)
      self->link_to(h);
    lane.threads = std::max<std::size_t>(1, hashers.size());
    lane.idle = std::move(hashers);
  };
  staff(st.checks, std::move(check_hashers));
  staff(st.registrations, std::move(registration_hashers));
  // Without the dummy hash, unknown usernames would answer faster.
  st.dummy_hash = passwords::dummy();
  return {
      [=](api::register_atom, const std::string& username, const std::string& password,
          const std::string& display_name) { return do_register(self, username, password, display_name); },
      [=](api::register_atom, const std::vector<std::string>& usernames, const std::string& password) {
        return do_register_many(self, usernames, password);
      },
      [=](api::login_atom, const std::string& username, const std::string& password, const std::string& remote) {
        return do_login(self, username, password, remote);
      },
      [=](api::verify_atom, const std::string& token) -> caf::result<api::token_claims, api::user_info> {
        auto c = self->state.check_token(token);
        if (!c)
          return c.error();
        auto u = self->state.user(c->who.id);
        if (!u)
          return u.error();
        return {*c, (*u)->info};
      },
      [=](api::logout_atom, const api::token_claims& c) -> caf::result<void> {
        if (auto err = revoke_here(self, c.jti, c.expires_at))
          return err;
        replicate_revoke(self, c.who.id, c.jti, c.expires_at);
        close_revoked(self, c.who.id, c.jti);
        return caf::unit;
      },
      // A change made by the owner of the username, or a logout elsewhere.
      [=](api::replicate_atom, const storage::stored_user& u) {
        auto before = self->state.user(u.info.id);
        auto valid_after = before ? (*before)->tokens_valid_after : 0;
        // A failed write is repaired by the copy this node makes when it next joins.
        [[maybe_unused]] auto ignored = self->state.take_copy(u);
        if (auto now = self->state.user(u.info.id); now && (*now)->tokens_valid_after > valid_after)
          close_older_tokens(self, **now);  // a password change
      },
      [=](api::revoke_atom, const api::user_id& user, const std::string& jti, std::int64_t expires_at) {
        [[maybe_unused]] auto ignored = revoke_here(self, jti, expires_at);  // kept in memory even if not stored
        close_revoked(self, user, jti);
      },
      // Copy everything from `source` (a node we joined).
      [=](api::sync_atom, const caf::actor& source) -> caf::result<std::uint64_t> {
        auto rp = self->make_response_promise();
        sync_from(self, source, "", 0, rp);
        return rp;
      },
      [=](api::sync_atom, const std::string& after,
          std::uint32_t limit) -> caf::result<std::vector<storage::stored_user>> {
        auto page = self->state.user_db.users_after(after, std::min<std::uint32_t>(limit, sync_page));
        if (!page)
          return page.error();
        return std::move(*page);
      },
      // A page of revocations: up to `limit` ids after `after`, by id.
      [=](api::sync_atom, api::revoke_atom, const std::string& after,
          std::uint32_t limit) -> caf::result<std::vector<std::string>, std::vector<std::int64_t>> {
        std::vector<std::string> jtis;
        std::vector<std::int64_t> expiries;
        auto& revoked = self->state.revoked;
        limit = std::min(limit, sync_page);
        for (auto it = revoked.upper_bound(after); it != revoked.end() && jtis.size() < limit; ++it) {
          jtis.push_back(it->first);
          expiries.push_back(it->second);
        }
        return {std::move(jtis), std::move(expiries)};
      },
      // A registration's deadline: still hashing, it answers 503 and stores
      // nothing (the name is free again).
      [=](api::timeout_atom, api::register_atom, const std::string& username, std::uint64_t id) {
        auto& st = self->state;
        auto it = st.registering.find(username);
        if (it == st.registering.end() || it->second.first != id)
          return;
        it->second.second.deliver(fail(errc::unavailable, "password hashing is saturated: try again later",
                                       static_cast<std::uint64_t>(std::max<std::int64_t>(st.hash_ms, 100))));
        st.registering.erase(it);
        st.pending_names.erase(username);
      },
      // The earliest revocation has expired (`at`: when; an older wake-up
      // only prunes).
      [=](api::expire_atom, std::int64_t at) {
        prune_revoked(self);
        if (at == self->state.prune_at) {
          self->state.prune_at = 0;
          schedule_prune(self);
        }
      },
      [=](api::profile_atom, const api::user_id& id, const api::profile_patch& p) { return do_profile(self, id, p); },
      [=](api::password_atom, const api::token_claims& who, const std::string& old_pw, const std::string& new_pw) {
        return do_password(self, who, old_pw, new_pw);
      },
      [=](api::lookup_atom, const std::string& username) -> caf::result<api::user_info> {
        auto u = user_named(self, username);
        if (!u)
          return u.error();
        return (*u)->info;
      },
      [=](api::keys_atom, const api::user_id& id, api::device_key& d) -> caf::result<void> {
        if (auto err = put_device(self, id, std::move(d)))
          return err;
        announce_keys(self, id);
        return caf::unit;
      },
      [=](api::keys_atom, const api::user_id& id, const std::string& device_id) -> caf::result<void> {
        if (auto err = delete_device(self, id, device_id))
          return err;
        announce_keys(self, id);
        return caf::unit;
      },
      [=](api::keys_atom, const std::string& username) -> caf::result<std::vector<api::device_key>> {
        auto u = user_named(self, username);
        if (!u)
          return u.error();
        return (*u)->devices;
      },
  };
}

}  // namespace confab::actors
