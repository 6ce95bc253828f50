#include "storage/database.hpp"

#include <filesystem>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>

#include "api/errors.hpp"
#include "api/metrics.hpp"
#include "storage/keys.hpp"
#include "storage/records.hpp"
#include "storage/search_index.hpp"

namespace confab::storage {

using api::errc;

namespace {

const char* const family_names[] = {"users",  "usernames", "rooms",    "members",  "user_rooms", "messages",
                                    "dedupe", "reads",     "revoked",  "presence", "files",      "chunks",
                                    "thumbs", "usage",     "handoffs", "rlog",     "rlog_state", "removed"};

}  // namespace

caf::expected<std::shared_ptr<database>> database::open(const std::string& dir, durability mode, bool search) {
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
  std::shared_ptr<database> s(new database);
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
  if (!search) {
    // What is written from now on is not indexed: an index left from an
    // earlier run is rebuilt when search is on again.
    if (!search_index::mark_stale(dir + "/search"))
      return api::fail(errc::unavailable, "cannot mark " + dir + "/search as stale");
    return s;
  }
  auto index = search_index::open(dir + "/search");
  if (!index)
    return index.error();
  s->search_ = std::move(*index);
  if (s->search_->needs_rebuild()) {
    auto started = std::chrono::steady_clock::now();
    std::uint64_t messages = 0;
    auto err = s->search_->rebuild([&](const std::function<void(std::string_view)>& index) -> caf::error {
      std::unique_ptr<rocksdb::Iterator> it(s->db_->NewIterator(rocksdb::ReadOptions{}, s->messages_));
      for (it->SeekToFirst(); it->Valid(); it->Next(), ++messages)
        index(it->value().ToStringView());
      return from_status(it->status());
    });
    if (err)
      return err;
    // Nothing on a new data dir: a bad flag found later is still the only
    // line on stderr (PROTOCOL.md section 1).
    if (messages > 0)
      spdlog::info(
          "search index built from the stored messages in {} ms",
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
  }
  return s;
}
rocksdb::Status database::write(rocksdb::WriteBatch& batch, flush f) {
  api::timed t{api::node_metrics().db_write};
  rocksdb::WriteOptions wo;
  wo.sync = syncs(f);
  auto st = db_->Write(wo, &batch);
  written_.fetch_add(1, std::memory_order_release);
  return st;
}
// RocksDB's own Put is a one-entry batch too: one path times and counts.
rocksdb::Status database::put(rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& key, const rocksdb::Slice& value,
                              flush f) {
  rocksdb::WriteBatch batch;
  batch.Put(cf, key, value);
  return write(batch, f);
}
caf::error database::sync_wal() {
  api::timed t{api::node_metrics().db_fsync};
  return from_status(db_->SyncWAL());
}
caf::expected<std::string> database::get(rocksdb::ColumnFamilyHandle* cf, const std::string& key) const {
  std::string value;
  auto st = db_->Get(rocksdb::ReadOptions{}, cf, key, &value);
  if (!st.ok())
    return from_status(st);
  return value;
}
caf::expected<std::vector<std::string>> database::keys_of(rocksdb::ColumnFamilyHandle* cf) const {
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions{}, cf));
  for (it->SeekToFirst(); it->Valid(); it->Next())
    out.push_back(it->key().ToString());
  if (auto err = from_status(it->status()))
    return err;
  return out;
}
caf::expected<std::vector<api::room_id>> database::room_keys_of(rocksdb::ColumnFamilyHandle* cf) const {
  auto keys = keys_of(cf);
  if (!keys)
    return keys.error();
  std::vector<api::room_id> out;
  out.reserve(keys->size());
  for (auto& k : *keys)
    out.push_back(api::room_id{std::move(k)});
  return out;
}

database::~database() {
  search_.reset();  // commits what it has indexed
  if (!db_)
    return;
  for (auto* h : handles_) {
    // Closing a handle only fails for the default family, which RocksDB owns.
    [[maybe_unused]] auto ignored = db_->DestroyColumnFamilyHandle(h);
  }
  [[maybe_unused]] auto ignored = db_->Close();
}

}  // namespace confab::storage
