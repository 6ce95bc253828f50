#pragma once

// Users and their tokens: accounts by id and by name, token revocations, and
// when each user was last seen. Column families users, usernames, revoked,
// presence.
//
// Thread-safe; every rocksdb::Status becomes a caf::error here.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "api/messages.hpp"
#include "storage/database.hpp"

namespace confab::storage {

struct stored_user {
  api::user_info info;
  std::string password_hash;
  std::int64_t created_at = 0;
  // Tokens issued before this (ms) are void, except keep_jti (password change).
  std::int64_t tokens_valid_after = 0;
  std::string keep_jti;
  // Raised by the owner of the username at each change: a node keeps the
  // copy with the highest version, whatever order copies arrive in.
  std::uint64_t version = 0;
  // The key directory's entries of this user, by device_id.
  std::vector<api::device_key> devices;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stored_user& x) {
  return f(caf::meta::type_name("confab::stored_user"), x.info, x.password_hash, x.created_at, x.tokens_valid_after,
           x.keep_jti, x.version, x.devices);
}

class user_store {
 public:
  user_store() = default;
  explicit user_store(std::shared_ptr<database> d) : d_(std::move(d)) {}

  // users
  [[nodiscard]] caf::error put_user(const stored_user& user, bool is_new);
  [[nodiscard]] caf::expected<stored_user> user(const api::user_id& id) const;
  [[nodiscard]] caf::expected<api::user_id> user_id_of(const std::string& username) const;
  // Up to `limit` users with ids after `after` (empty: from the first), by id.
  [[nodiscard]] caf::expected<std::vector<stored_user>> users_after(const std::string& after, std::size_t limit) const;
  // tokens
  [[nodiscard]] caf::error revoke(const std::string& jti, std::int64_t expires_at);
  // All revoked token ids that have not expired at `now`.
  [[nodiscard]] caf::expected<std::map<std::string, std::int64_t>> revoked(std::int64_t now) const;
  // Drops revocations of tokens that have expired (a token past its expiry
  // fails verification anyway): these ids, or every one expired at `now`.
  [[nodiscard]] caf::error forget_revoked(const std::vector<std::string>& jtis);
  [[nodiscard]] caf::expected<std::size_t> prune_revoked(std::int64_t now);
  // presence: when the user's last session ended (ms), 0 if never
  [[nodiscard]] caf::expected<std::int64_t> last_seen(const api::user_id& user) const;
  [[nodiscard]] caf::error set_last_seen(const api::user_id& user, std::int64_t when);

 private:
  std::shared_ptr<database> d_;
};

}  // namespace confab::storage
