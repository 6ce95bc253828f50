#pragma once

// The node's RocksDB database: one per node, opened once, closed when the
// last store over it goes (RAII). It owns the column families and the one
// write path (timed, counted, fsynced by --durability); the stores of each
// concern (users.hpp, rooms.hpp, room_log.hpp, files.hpp, handoff.hpp) read
// and write through it. Internal to storage/: its members are the stores'
// to use. Thread-safe (RocksDB is).

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "api/ids.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Slice;
class Status;
class WriteBatch;
}  // namespace rocksdb

namespace confab::storage {

class search_index;

// When a write reaches the disk (--durability). Appends and read markers
// always go to the WAL only: with fsync, their acks wait for a group commit
// (sync_wal, driven by actors/syncer.hpp). Every other write (users, rooms,
// members, files, revocations) is fsynced before it returns under fsync.
// Handoff fences and a handoff's last piece are fsynced in both modes.
enum class durability { fsync, wal };

class database {
 public:
  // Opens or creates the database in `dir`. Fails when the directory is
  // unusable or another process holds it.
  // search: keep the full-text index (search_index.hpp) in <dir>/search.
  [[nodiscard]] static caf::expected<std::shared_ptr<database>> open(const std::string& dir, durability mode,
                                                                     bool search = true);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  // Group commit: every write is counted once it is in the WAL; sync_wal()
  // fsyncs the WAL, which makes each write counted before it began durable.
  [[nodiscard]] std::uint64_t written() const { return written_.load(std::memory_order_acquire); }
  [[nodiscard]] caf::error sync_wal();
  [[nodiscard]] durability mode() const { return mode_; }

  [[nodiscard]] caf::expected<std::string> get(rocksdb::ColumnFamilyHandle* cf, const std::string& key) const;
  // Every key of a column family, in order.
  [[nodiscard]] caf::expected<std::vector<std::string>> keys_of(rocksdb::ColumnFamilyHandle* cf) const;
  [[nodiscard]] caf::expected<std::vector<api::room_id>> room_keys_of(rocksdb::ColumnFamilyHandle* cf) const;
  // Every write goes through these two, which time and count it. wal: to
  // the WAL only; by_mode: fsynced under durability::fsync; always: fsynced.
  enum class flush { wal, by_mode, always };
  [[nodiscard]] rocksdb::Status write(rocksdb::WriteBatch& batch, flush f = flush::by_mode);
  [[nodiscard]] rocksdb::Status put(rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& key,
                                    const rocksdb::Slice& value, flush f = flush::by_mode);
  [[nodiscard]] bool syncs(flush f) const {
    return f == flush::always || (f == flush::by_mode && mode_ == durability::fsync);
  }

  durability mode_ = durability::fsync;
  std::atomic<std::uint64_t> written_{0};

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* users_ = nullptr;
  rocksdb::ColumnFamilyHandle* usernames_ = nullptr;
  rocksdb::ColumnFamilyHandle* rooms_ = nullptr;
  rocksdb::ColumnFamilyHandle* members_ = nullptr;
  rocksdb::ColumnFamilyHandle* user_rooms_ = nullptr;
  rocksdb::ColumnFamilyHandle* messages_ = nullptr;
  rocksdb::ColumnFamilyHandle* dedupe_ = nullptr;
  rocksdb::ColumnFamilyHandle* reads_ = nullptr;
  rocksdb::ColumnFamilyHandle* revoked_ = nullptr;
  rocksdb::ColumnFamilyHandle* presence_ = nullptr;
  rocksdb::ColumnFamilyHandle* files_ = nullptr;
  rocksdb::ColumnFamilyHandle* chunks_ = nullptr;
  rocksdb::ColumnFamilyHandle* thumbs_ = nullptr;
  rocksdb::ColumnFamilyHandle* usage_ = nullptr;
  rocksdb::ColumnFamilyHandle* handoffs_ = nullptr;
  rocksdb::ColumnFamilyHandle* rlog_ = nullptr;
  rocksdb::ColumnFamilyHandle* rlog_state_ = nullptr;
  rocksdb::ColumnFamilyHandle* removed_ = nullptr;
  // The full-text index of the messages (search_index.hpp): every write of
  // the messages family hands it the message. Null with search off.
  std::unique_ptr<search_index> search_;
  std::mutex usage_mutex_;  // usage is read, added to and written as one step

 private:
  database() = default;
};

}  // namespace confab::storage
