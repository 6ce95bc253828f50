#pragma once

// Account actor: one per node. It makes the changes to the accounts whose
// username this node owns (register, profile, password, logout) and sends
// each changed record to the other nodes' account actors, so every node keeps
// every account and checks logins and tokens locally; a node that joins
// copies them all first. Registers users, checks passwords, signs
// and verifies tokens, keeps revocations, rate-limits logins. Password hashing
// (Argon2id, deliberately slow) runs on a pool of detached hasher actors so
// neither this actor nor the scheduler's threads ever wait for it.

#include <deque>
#include <map>
#include <set>
#include <unordered_map>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>

#include <functional>
#include "api/interfaces.hpp"
#include "api/messages.hpp"

#include "actors/context.hpp"
#include "api/probe.hpp"
#include "api/rate_limits.hpp"
#include "storage/users.hpp"

namespace confab::actors {

// Argon2id threads of a node (hasher_actor, detached): these check logins
// and hash changed passwords; one more, at a lower CPU priority, hashes the
// passwords of new accounts.
constexpr std::size_t check_hasher_threads = 2;
// Registrations waiting for a hasher; past it they get 503 unavailable.
constexpr std::size_t max_waiting_registrations = 32;
// A registration whose hash has not finished this long after it arrived
// answers 503 with retry_after_ms and stores nothing, before the gateway's
// own timeout (10 s) could answer 503 for one that is stored later.
constexpr std::int64_t registration_deadline_ms = 7000;
// Logins and password checks waiting for a hasher; past it, 503 too.
constexpr std::size_t max_waiting_checks = 1024;
// Devices a user may publish keys for (PROTOCOL.md section 7).
constexpr std::size_t max_devices = 32;

struct account_state {
  static inline const char* name = "confab.account";

  context_ptr ctx;
  storage::user_store user_db;
  std::string secret;
  // Work for the hashers, each job a function that sends one request to the
  // idle hasher it is given, never to a busy one. Logins and password
  // changes have hashers of their own, and registrations a lower CPU
  // priority, so that a flood of registrations cannot starve sign-ins
  // (PROTOCOL.md section 10).
  struct hash_lane {
    std::vector<api::hasher_actor> idle;
    std::size_t threads = 0;
    std::deque<std::function<void(api::hasher_actor)>> waiting;
  };
  hash_lane checks;
  hash_lane registrations;
  std::int64_t hash_ms = 100;  // a running average of one hash, for retry_after_ms
  std::string dummy_hash;      // verified against for unknown usernames: same cost
  std::unordered_map<api::user_id, storage::stored_user> users;
  std::map<std::string, std::int64_t> revoked;  // jti -> expiry ms
  // The same by expiry, and when the next prune is due (0: none): each
  // revocation is dropped, here and in the store, once its token expires.
  std::set<std::pair<std::int64_t, std::string>> revoked_by_expiry;
  std::int64_t prune_at = 0;
  std::set<std::string> pending_names;  // registrations being hashed
  // The single registrations among them, each with its number and answer:
  // the one past registration_deadline_ms is answered 503 and forgotten, and
  // its hash, when it comes, is dropped.
  std::map<std::string, std::pair<std::uint64_t, caf::typed_response_promise<api::user_info>>> registering;
  std::uint64_t registrations_started = 0;
  api::attempt_window user_failures;
  api::attempt_window ip_attempts;

  [[nodiscard]] caf::expected<storage::stored_user*> user(const api::user_id& id);
  void remember(const storage::stored_user& u);
  // Stores another node's copy of a user unless ours is newer.
  [[nodiscard]] caf::error take_copy(const storage::stored_user& u);
  [[nodiscard]] caf::expected<api::token_claims> check_token(const std::string& token);
};

// The account actor's interface: what it serves (api::account_service),
// and what the account actors of other nodes and the node ask of it.
using account_interface = api::account_service::extend<
    // A user changed on its owner (or a logout elsewhere): this node's copy.
    caf::reacts_to<api::replicate_atom, storage::stored_user>,
    caf::reacts_to<api::revoke_atom, api::user_id, std::string, std::int64_t>,  // user, jti, expiry
    // Pages for a node that copies: users after an id, revocations (ids
    // and expiries) after an id.
    caf::replies_to<api::sync_atom, std::string, std::uint32_t>::with<std::vector<storage::stored_user>>,
    caf::replies_to<api::sync_atom, api::revoke_atom, std::string, std::uint32_t>::with<std::vector<std::string>,
                                                                                        std::vector<std::int64_t>>,
    caf::reacts_to<api::expire_atom, std::int64_t>,  // prune expired revocations
    // A registration's deadline (username, its number in registering).
    caf::reacts_to<api::timeout_atom, api::register_atom, std::string, std::uint64_t>>;

using account_self = api::probed<account_state, account_interface::base>;

// check_hashers and registration_hashers: at least one actor each running
// hasher_actor (detached in production; the same actor may be in both).
account_interface::behavior_type account_actor(account_self* self, context_ptr ctx, storage::user_store users,
                                               std::string secret, std::vector<api::hasher_actor> check_hashers,
                                               std::vector<api::hasher_actor> registration_hashers);

// Validation shared with the HTTP frontend: empty when fine, else why not.
[[nodiscard]] std::string check_username(const std::string& username);
[[nodiscard]] std::string check_password(const std::string& password);

}  // namespace confab::actors
