#include "storage/users.hpp"

#include <algorithm>
#include <charconv>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <nlohmann/json.hpp>

#include "api/errors.hpp"
#include "api/metrics.hpp"
#include "storage/keys.hpp"
#include "storage/records.hpp"

namespace confab::storage {

using api::errc;
using nlohmann::json;

namespace {

// A stored expiry (ms); an unreadable one counts as long expired.
std::int64_t expiry_of(const rocksdb::Slice& value) {
  std::int64_t out = 0;
  auto text = value.ToStringView();
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size() ? out : 0;
}

}  // namespace

caf::error user_store::put_user(const stored_user& user, bool is_new) {
  rocksdb::WriteBatch batch;
  batch.Put(d_->users_, user.info.id.value, user_to_json(user));
  if (is_new)
    batch.Put(d_->usernames_, user.info.username, user.info.id.value);
  return from_status(d_->write(batch));
}

caf::expected<stored_user> user_store::user(const api::user_id& id) const {
  auto text = d_->get(d_->users_, id.value);
  if (!text)
    return text.error();
  return guarded([&]() -> caf::expected<stored_user> { return user_from_json(*text); });
}

caf::expected<api::user_id> user_store::user_id_of(const std::string& username) const {
  auto id = d_->get(d_->usernames_, username);
  if (!id)
    return id.error();
  return api::user_id{std::move(*id)};
}

caf::expected<std::vector<stored_user>> user_store::users_after(const std::string& after, std::size_t limit) const {
  std::vector<stored_user> out;
  std::unique_ptr<rocksdb::Iterator> it(d_->db_->NewIterator(rocksdb::ReadOptions{}, d_->users_));
  if (after.empty())
    it->SeekToFirst();
  else
    it->Seek(after);
  for (; it->Valid() && out.size() < limit; it->Next()) {
    if (it->key().ToString() == after)
      continue;
    auto u = guarded([&]() -> caf::expected<stored_user> { return user_from_json(it->value().ToString()); });
    if (!u)
      return u.error();
    out.push_back(std::move(*u));
  }
  if (!it->status().ok())
    return from_status(it->status());
  return out;
}

caf::error user_store::revoke(const std::string& jti, std::int64_t expires_at) {
  return from_status(d_->put(d_->revoked_, jti, std::to_string(expires_at)));
}

caf::expected<std::map<std::string, std::int64_t>> user_store::revoked(std::int64_t now) const {
  std::map<std::string, std::int64_t> out;
  std::unique_ptr<rocksdb::Iterator> it(d_->db_->NewIterator(rocksdb::ReadOptions{}, d_->revoked_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto exp = expiry_of(it->value());
    if (exp > now)
      out.emplace(it->key().ToString(), exp);
  }
  if (auto err = from_status(it->status()))
    return err;
  return out;
}

caf::error user_store::forget_revoked(const std::vector<std::string>& jtis) {
  rocksdb::WriteBatch batch;
  for (auto& jti : jtis)
    batch.Delete(d_->revoked_, jti);
  return from_status(d_->write(batch, database::flush::wal));
}

caf::expected<std::size_t> user_store::prune_revoked(std::int64_t now) {
  std::vector<std::string> expired;
  std::unique_ptr<rocksdb::Iterator> it(d_->db_->NewIterator(rocksdb::ReadOptions{}, d_->revoked_));
  for (it->SeekToFirst(); it->Valid(); it->Next())
    if (expiry_of(it->value()) <= now)
      expired.push_back(it->key().ToString());
  if (auto err = from_status(it->status()))
    return err;
  if (auto err = forget_revoked(expired))
    return err;
  return expired.size();
}

caf::expected<std::int64_t> user_store::last_seen(const api::user_id& user) const {
  auto v = d_->get(d_->presence_, user.value);
  if (!v) {
    if (api::describe(v.error()).code == errc::not_found)
      return std::int64_t{0};
    return v.error();
  }
  return static_cast<std::int64_t>(keys::seq_of(*v));
}

caf::error user_store::set_last_seen(const api::user_id& user, std::int64_t when) {
  return from_status(d_->put(d_->presence_, user.value, be64(static_cast<api::seq_t>(when)), database::flush::wal));
}

}  // namespace confab::storage
