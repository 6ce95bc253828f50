#include "storage/store.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <stdexcept>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/options_util.h>
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

const char* const family_names[] = {"users",  "usernames", "rooms",    "members",  "user_rooms", "messages",
                                    "dedupe", "reads",     "revoked",  "presence", "files",      "chunks",
                                    "thumbs", "usage",     "handoffs", "rlog",     "rlog_state", "removed"};

// A whole-number field of a record, `fallback` when absent. Anything else is
// corruption: nlohmann's get<> would convert a float (or an integer too big
// for 64 bits, which it parses as one) with undefined behaviour out of range.
template <class T>
T whole(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end())
    return fallback;
  if (!it->is_number_integer())
    throw std::domain_error(std::string("field ") + key + " is not a whole number");
  return it->get<T>();
}

}  // namespace

caf::error from_status(const rocksdb::Status& st) {
  if (st.ok())
    return caf::none;
  if (st.IsNotFound())
    return api::fail(errc::not_found, "not found");
  return api::fail(errc::unavailable, "storage: " + st.ToString());
}

std::string be64(api::seq_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

std::string user_to_json(const stored_user& u) {
  return json{{"id", u.info.id.value},
              {"username", u.info.username},
              {"display_name", u.info.display_name},
              {"status_text", u.info.status_text},
              {"avatar_file_id", u.info.avatar_file_id},
              {"password_hash", u.password_hash},
              {"created_at", u.created_at},
              {"tokens_valid_after", u.tokens_valid_after},
              {"keep_jti", u.keep_jti},
              {"version", u.version}}
      .dump();
}

stored_user user_from_json(const std::string& text) {
  auto j = json::parse(text);
  stored_user u;
  u.info.id = api::user_id{j.at("id").get<std::string>()};
  u.info.username = j.at("username").get<std::string>();
  u.info.display_name = j.value("display_name", u.info.username);
  u.info.status_text = j.value("status_text", "");
  u.info.avatar_file_id = j.value("avatar_file_id", "");
  u.password_hash = j.value("password_hash", "");
  u.created_at = whole(j, "created_at", std::int64_t{0});
  u.tokens_valid_after = whole(j, "tokens_valid_after", std::int64_t{0});
  u.keep_jti = j.value("keep_jti", "");
  u.version = whole(j, "version", std::uint64_t{0});
  return u;
}

std::string room_to_json(const api::room_info& r) {
  return json{{"id", r.id.value},           {"name", r.name}, {"topic", r.topic},
              {"visibility", r.visibility}, {"kind", r.kind}, {"created_at", r.created_at},
              {"owner", r.owner.value}}
      .dump();
}

api::room_info room_from_json(const std::string& text) {
  auto j = json::parse(text);
  api::room_info r;
  r.id = api::room_id{j.at("id").get<std::string>()};
  r.name = j.value("name", "");
  r.topic = j.value("topic", "");
  r.visibility = j.value("visibility", "private");
  r.kind = j.value("kind", "room");
  r.created_at = whole(j, "created_at", std::int64_t{0});
  r.owner = api::user_id{j.value("owner", "")};
  return r;
}

caf::expected<std::shared_ptr<store>> store::open(const std::string& dir, durability mode) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return api::fail(errc::unavailable, "cannot create data dir " + dir + ": " + ec.message());
  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = true;
  db_opts.create_missing_column_families = true;
  db_opts.max_background_jobs = 2;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions{});
  for (auto* name : family_names) {
    rocksdb::ColumnFamilyOptions cf;
    if (std::string_view(name) == "chunks" || std::string_view(name) == "thumbs") {
      // File bytes: small memtables, so an upload costs a few chunks of
      // memory rather than the file's size, and values in blob files, so
      // compaction does not rewrite them.
      cf.write_buffer_size = 2 * 1024 * 1024;
      cf.max_write_buffer_number = 2;
      cf.enable_blob_files = true;
      cf.min_blob_size = 4096;
    }
    families.emplace_back(name, cf);
  }
  std::shared_ptr<store> s(new store);
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(db_opts, dir + "/db", families, &s->handles_, &raw);
  if (!st.ok())
    return api::fail(errc::unavailable, "cannot open store in " + dir + ": " + st.ToString());
  s->db_.reset(raw);
  s->mode_ = mode;
  auto& h = s->handles_;
  s->users_ = h[1];
  s->usernames_ = h[2];
  s->rooms_ = h[3];
  s->members_ = h[4];
  s->user_rooms_ = h[5];
  s->messages_ = h[6];
  s->dedupe_ = h[7];
  s->reads_ = h[8];
  s->revoked_ = h[9];
  s->presence_ = h[10];
  s->files_ = h[11];
  s->chunks_ = h[12];
  s->thumbs_ = h[13];
  s->usage_ = h[14];
  s->handoffs_ = h[15];
  s->rlog_ = h[16];
  s->rlog_state_ = h[17];
  s->removed_ = h[18];
  return s;
}

store::~store() {
  if (!db_)
    return;
  for (auto* h : handles_) {
    // Closing a handle only fails for the default family, which RocksDB owns.
    [[maybe_unused]] auto ignored = db_->DestroyColumnFamilyHandle(h);
  }
  [[maybe_unused]] auto ignored = db_->Close();
}

rocksdb::Status store::write(rocksdb::WriteBatch& batch, flush f) {
  api::timed t{api::node_metrics().db_write};
  rocksdb::WriteOptions wo;
  wo.sync = syncs(f);
  auto st = db_->Write(wo, &batch);
  written_.fetch_add(1, std::memory_order_release);
  return st;
}

// RocksDB's own Put is a one-entry batch too: one path times and counts.
rocksdb::Status store::put(rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& key, const rocksdb::Slice& value,
                           flush f) {
  rocksdb::WriteBatch batch;
  batch.Put(cf, key, value);
  return write(batch, f);
}

caf::error store::sync_wal() {
  api::timed t{api::node_metrics().db_fsync};
  return from_status(db_->SyncWAL());
}

caf::expected<std::string> store::get(rocksdb::ColumnFamilyHandle* cf, const std::string& key) const {
  std::string value;
  auto st = db_->Get(rocksdb::ReadOptions{}, cf, key, &value);
  if (!st.ok())
    return from_status(st);
  return value;
}

caf::error store::put_user(const stored_user& user, bool is_new) {
  rocksdb::WriteBatch batch;
  batch.Put(users_, user.info.id.value, user_to_json(user));
  if (is_new)
    batch.Put(usernames_, user.info.username, user.info.id.value);
  return from_status(write(batch));
}

caf::expected<stored_user> store::user(const api::user_id& id) const {
  auto text = get(users_, id.value);
  if (!text)
    return text.error();
  return guarded([&]() -> caf::expected<stored_user> { return user_from_json(*text); });
}

caf::expected<api::user_id> store::user_id_of(const std::string& username) const {
  auto id = get(usernames_, username);
  if (!id)
    return id.error();
  return api::user_id{std::move(*id)};
}

caf::expected<std::vector<stored_user>> store::users_after(const std::string& after, std::size_t limit) const {
  std::vector<stored_user> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions{}, users_));
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

caf::error store::revoke(const std::string& jti, std::int64_t expires_at) {
  return from_status(put(revoked_, jti, std::to_string(expires_at)));
}

namespace {

// A stored expiry (ms); an unreadable one counts as long expired.
std::int64_t expiry_of(const rocksdb::Slice& value) {
  std::int64_t out = 0;
  auto text = value.ToStringView();
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size() ? out : 0;
}

}  // namespace

caf::expected<std::map<std::string, std::int64_t>> store::revoked(std::int64_t now) const {
  std::map<std::string, std::int64_t> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions{}, revoked_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto exp = expiry_of(it->value());
    if (exp > now)
      out.emplace(it->key().ToString(), exp);
  }
  if (auto err = from_status(it->status()))
    return err;
  return out;
}

caf::error store::forget_revoked(const std::vector<std::string>& jtis) {
  rocksdb::WriteBatch batch;
  for (auto& jti : jtis)
    batch.Delete(revoked_, jti);
  return from_status(write(batch, flush::wal));
}

caf::expected<std::size_t> store::prune_revoked(std::int64_t now) {
  std::vector<std::string> expired;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions{}, revoked_));
  for (it->SeekToFirst(); it->Valid(); it->Next())
    if (expiry_of(it->value()) <= now)
      expired.push_back(it->key().ToString());
  if (auto err = from_status(it->status()))
    return err;
  if (auto err = forget_revoked(expired))
    return err;
  return expired.size();
}

caf::error store::put_room(const api::room_info& room,
                           const std::vector<std::pair<api::user_id, std::string>>& members) {
  rocksdb::WriteBatch batch;
  batch.Put(rooms_, room.id.value, room_to_json(room));
  for (auto& [user, role] : members) {
    batch.Put(members_, keys::pair(room.id.value, user.value), role);
    if (role != "invited")
      batch.Put(user_rooms_, keys::pair(user.value, room.id.value), "");
  }
  return from_status(write(batch));
}

caf::expected<api::room_info> store::room(const api::room_id& id) const {
  auto text = get(rooms_, id.value);
  if (!text)
    return text.error();
  return guarded([&]() -> caf::expected<api::room_info> { return room_from_json(*text); });
}

caf::expected<std::vector<api::room_info>> store::public_rooms(const std::string& after, std::size_t limit) const {
  return guarded([&]() -> caf::expected<std::vector<api::room_info>> {
    std::vector<api::room_info> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions{}, rooms_));
    it->Seek(after);
    if (it->Valid() && !after.empty() && it->key() == rocksdb::Slice(after))
      it->Next();
    for (; it->Valid() && out.size() < limit; it->Next()) {
      auto r = room_from_json(it->value().ToString());
      if (r.visibility == "public" && r.kind == "room")
        out.push_back(std::move(r));
    }
    if (auto err = from_status(it->status()))
      return err;
    return out;
  });
}

caf::expected<std::map<api::user_id, std::string>> store::members(const api::room_id& id) const {
  std::map<api::user_id, std::string> out;
  auto prefix = keys::room_prefix(id);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions{}, members_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    out.emplace(api::user_id{it->key().ToString().substr(prefix.size())}, it->value().ToString());
  if (auto err = from_status(it->status()))
    return err;
  return out;
}

caf::error store::set_member(const api::room_id& room, const api::user_id& user, const std::string& role) {
  rocksdb::WriteBatch batch;
  batch.Put(members_, keys::pair(room.value, user.value), role);
  if (role == "invited")
    batch.Delete(user_rooms_, keys::pair(user.value, room.value));
  else
    batch.Put(user_rooms_, keys::pair(user.value, room.value), "");
  return from_status(write(batch));
}

caf::error store::remove_member(const api::room_id& room, const api::user_id& user) {
  rocksdb::WriteBatch batch;
  batch.Delete(members_, keys::pair(room.value, user.value));
  batch.Delete(user_rooms_, keys::pair(user.value, room.value));
  return from_status(write(batch));
}

caf::expected<std::vector<api::room_id>> store::rooms_of(const api::user_id& user) const {
  std::vector<api::room_id> out;
  auto prefix = user.value + '\0';
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions{}, user_rooms_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    out.emplace_back(it->key().ToString().substr(prefix.size()));
  if (auto err = from_status(it->status()))
    return err;
  return out;
}

caf::error store::append(const append_entry& e) {
  rocksdb::WriteBatch batch;
  batch.Put(messages_, keys::message(e.room, e.seq), e.message_json);
  if (!e.client_msg_id.empty())
    batch.Put(dedupe_, keys::dedupe(e.from, e.room, e.client_msg_id), be64(e.seq));
  // To the WAL: the record survives a crash of the process; the room waits
  // for a group commit before the ack under durability::fsync.
  return from_status(write(batch, flush::wal));
}

caf::expected<api::seq_t> store::last_seq(const api::room_id& room) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions{}, messages_));
  auto prefix = keys::room_prefix(room);
  it->SeekForPrev(keys::message(room, UINT64_MAX));
  if (it->Valid() && it->key().starts_with(prefix))
    return keys::seq_of(it->key().ToStringView());
  if (auto err = from_status(it->status()))
    return err;
  return api::seq_t{0};
}

caf::error store::put_log(const api::room_id& room, std::uint64_t truncate_after, const log_entries& entries) {
  rocksdb::WriteBatch batch;
  if (truncate_after < UINT64_MAX) {
    batch.DeleteRange(rlog_, keys::message(room, truncate_after + 1), keys::message(room, UINT64_MAX));
    batch.Delete(rlog_, keys::message(room, UINT64_MAX));
  }
  for (auto& [index, bytes] : entries)
    batch.Put(rlog_, keys::message(room, index), bytes);
  return from_status(write(batch, flush::wal));
}

caf::expected<store::log_entries> store::log_range(const api::room_id& room, std::uint64_t after,
                                                   std::size_t max) const {
  log_entries out;
  if (after == UINT64_MAX)
    return out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions{}, rlog_));
  auto prefix = keys::room_prefix(room);
  for (it->Seek(keys::message(room, after + 1)); it->Valid() && it->key().starts_with(prefix) && out.size() < max;
       it->Next())
    out.emplace_back(keys::seq_of(it->key().ToStringView()), it->value().ToString());
  if (auto err = from_status(it->status()))
    return err;
  return out;
}

caf::error store::put_log_state(const api::room_id& room, std::string_view state) {
  return from_status(put(rlog_state_, room.value, state, flush::always));
}

caf::expected<std::string> store::log_state(const api::room_id& room) const {
  return get(rlog_state_, room.value);
}

caf::expected<std::vector<std::string>> store::keys_of(rocksdb::ColumnFamilyHandle* cf) const {
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions{}, cf));
  for (it->SeekToFirst(); it->Valid(); it->Next())
    out.push_back(it->key().ToString());
  if (auto err = from_status(it->status()))
    return err;
  return out;
}

caf::expected<std::vector<api::room_id>> store::room_keys_of(rocksdb::ColumnFamilyHandle* cf) const {
  auto keys = keys_of(cf);
  if (!keys)
    return keys.error();
  std::vector<api::room_id> out;
  out.reserve(keys->size());
  for (auto& k : *keys)
    out.push_back(api::room_id{std::move(k)});
  return out;
}

caf::expected<std::vector<api::room_id>> store::log_rooms() const {
  return room_keys_of(rlog_state_);
}

caf::error store::add_removed_node(const std::string& id) {
  return from_status(put(removed_, id, "", flush::always));
}

caf::expected<std::vector<std::string>> store::removed_nodes() const {
  return keys_of(removed_);
}

caf::expected<std::string> store::message(const api::room_id& room, api::seq_t seq) const {
  return get(messages_, keys::message(room, seq));
}

caf::expected<api::seq_t> store::dedupe(const api::user_id& user, const api::room_id& room,
                                        const std::string& client_msg_id) const {
  auto v = get(dedupe_, keys::dedupe(user, room, client_msg_id));
  if (!v)
    return v.error();
  return keys::seq_of(*v);
}

caf::expected<api::history_page> store::history(const api::room_id& room, std::optional<api::seq_t> before,
                                                std::optional<api::seq_t> after, std::uint32_t limit) const {
  api::history_page page;
  auto prefix = keys::room_prefix(room);
  rocksdb::ReadOptions ro;  // an iterator reads one consistent snapshot
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, messages_));
  auto in_range = [&](api::seq_t s) { return (!after || s > *after) && (!before || s < *before); };
  if (before && *before <= 1)
    return page;  // nothing is below seq 1
  if (after) {
    // Oldest first from `after`.
    for (it->Seek(keys::message(room, *after + 1)); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (!in_range(keys::seq_of(it->key().ToStringView())))
        break;
      if (page.messages.size() == limit) {
        page.has_more = true;
        break;
      }
      page.messages.push_back(it->value().ToString());
    }
  } else {
    // Newest first below `before`, then reversed.
    it->SeekForPrev(keys::message(room, before ? *before - 1 : UINT64_MAX));
    for (; it->Valid() && it->key().starts_with(prefix); it->Prev()) {
      if (!in_range(keys::seq_of(it->key().ToStringView())))
        break;
      if (page.messages.size() == limit) {
        page.has_more = true;
        break;
      }
      page.messages.push_back(it->value().ToString());
    }
    std::reverse(page.messages.begin(), page.messages.end());
  }
  if (auto err = from_status(it->status()))
    return err;
  return page;
}

caf::expected<api::seq_t> store::last_read(const api::user_id& user, const api::room_id& room) const {
  auto v = get(reads_, keys::pair(user.value, room.value));
  if (!v) {
    if (api::describe(v.error()).code == errc::not_found)
      return api::seq_t{0};
    return v.error();
  }
  return keys::seq_of(*v);
}

caf::error store::set_last_read(const api::user_id& user, const api::room_id& room, api::seq_t seq) {
  return from_status(put(reads_, keys::pair(user.value, room.value), be64(seq), flush::wal));
}

caf::expected<std::int64_t> store::last_seen(const api::user_id& user) const {
  auto v = get(presence_, user.value);
  if (!v) {
    if (api::describe(v.error()).code == errc::not_found)
      return std::int64_t{0};
    return v.error();
  }
  return static_cast<std::int64_t>(keys::seq_of(*v));
}

caf::error store::set_last_seen(const api::user_id& user, std::int64_t when) {
  return from_status(put(presence_, user.value, be64(static_cast<api::seq_t>(when)), flush::wal));
}

namespace {

std::string file_to_json(const file_record& f) {
  return json{{"id", f.id},         {"name", f.name},       {"size", f.size},         {"content_type", f.content_type},
              {"sha256", f.sha256}, {"room", f.room.value}, {"owner", f.owner.value}, {"created_at", f.created_at},
              {"chunks", f.chunks}, {"width", f.width},     {"height", f.height},     {"thumbnail", f.thumbnail}}
      .dump();
}

file_record file_from_json(const std::string& text) {
  auto j = json::parse(text);
  file_record f;
  f.id = j.at("id").get<std::string>();
  f.name = j.value("name", "");
  f.size = whole(j, "size", std::uint64_t{0});
  f.content_type = j.value("content_type", "application/octet-stream");
  f.sha256 = j.value("sha256", "");
  f.room = api::room_id{j.value("room", "")};
  f.owner = api::user_id{j.value("owner", "")};
  f.created_at = whole(j, "created_at", std::int64_t{0});
  f.chunks = whole(j, "chunks", std::uint64_t{0});
  f.width = whole(j, "width", 0u);
  f.height = whole(j, "height", 0u);
  f.thumbnail = j.value("thumbnail", false);
  return f;
}

std::string chunk_key(const std::string& file, std::uint64_t index) {
  auto key = file + '\0';
  key += be64(index);
  return key;
}

}  // namespace

caf::error store::put_chunk(const std::string& file, std::uint64_t index, std::string_view bytes) {
  // Chunks go to the WAL only: the file's record, written after the last
  // chunk, is fsynced and so covers them (one WAL, written in order).
  return from_status(put(chunks_, chunk_key(file, index), rocksdb::Slice(bytes.data(), bytes.size()), flush::wal));
}

caf::expected<std::string> store::chunk(const std::string& file, std::uint64_t index) const {
  return get(chunks_, chunk_key(file, index));
}

caf::error store::drop_chunks(const std::string& file, std::uint64_t count) {
  return from_status(db_->DeleteRange(rocksdb::WriteOptions{}, chunks_, chunk_key(file, 0), chunk_key(file, count)));
}

caf::error store::put_file(const file_record& f, bool is_new, std::uint64_t quota) {
  rocksdb::WriteBatch batch;
  batch.Put(files_, f.id, file_to_json(f));
  std::unique_lock<std::mutex> lock(usage_mutex_, std::defer_lock);
  if (is_new) {
    lock.lock();
    auto used = usage(f.owner);
    if (!used)
      return used.error();
    if (*used + f.size > quota)
      return api::fail(errc::quota_exceeded, "file storage quota exceeded");
    batch.Put(usage_, f.owner.value, be64(*used + f.size));
  }
  return from_status(write(batch));
}

caf::expected<file_record> store::file(const std::string& id) const {
  auto text = get(files_, id);
  if (!text)
    return text.error();
  return guarded([&]() -> caf::expected<file_record> { return file_from_json(*text); });
}

caf::expected<std::uint64_t> store::usage(const api::user_id& user) const {
  auto v = get(usage_, user.value);
  if (!v) {
    if (api::describe(v.error()).code == errc::not_found)
      return std::uint64_t{0};
    return v.error();
  }
  return keys::seq_of(*v);
}

caf::error store::put_thumbnail(const file_record& f, std::string_view jpeg) {
  rocksdb::WriteBatch batch;
  batch.Put(thumbs_, f.id, rocksdb::Slice(jpeg.data(), jpeg.size()));
  batch.Put(files_, f.id, file_to_json(f));
  return from_status(write(batch));
}

caf::expected<std::string> store::thumbnail(const std::string& id) const {
  return get(thumbs_, id);
}

}  // namespace confab::storage
