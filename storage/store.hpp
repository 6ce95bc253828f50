#pragma once

// The node's store: one RocksDB database (database.hpp) and a store per
// concern over it, which callers reach by concern: users() (accounts,
// tokens, last seen), rooms() (rooms and members), log() (each room's
// messages, dedupe, read markers, replicated log), files() and handoff()
// (moving rooms, removed nodes). Thread-safe; shared by the actors of one
// node. Every rocksdb::Status becomes a caf::error at this boundary: a
// missing record is errc::not_found, anything else errc::unavailable.
//
// Column families: users (id -> JSON), usernames (name -> id), rooms (id ->
// JSON), members (room\0user -> role), user_rooms (user\0room -> ""),
// messages (room\0be64(seq) -> message JSON as sent to clients), dedupe
// (user\0room\0client_msg_id -> be64 seq), reads (user\0room -> be64 seq),
// revoked (token id -> expiry ms), presence (user -> last seen ms), files
// (id -> JSON), chunks (file\0be64(index) -> bytes), thumbs (file -> JPEG),
// usage (user -> be64 bytes of files), rlog (room\0be64(index) -> an entry
// of the room's replicated log, encoded by its user), rlog_state (room -> the
// log's promise and commit point, encoded by its user), removed (node id ->
// "": members removed for good).

#include <cstdint>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "storage/database.hpp"
#include "storage/files.hpp"
#include "storage/handoff.hpp"
#include "storage/room_log.hpp"
#include "storage/rooms.hpp"
#include "storage/users.hpp"

namespace confab::storage {

class store {
 public:
  // Opens or creates the store in `dir`. Fails when the directory is unusable
  // or another process holds it.
  [[nodiscard]] static caf::expected<std::shared_ptr<store>> open(const std::string& dir,
                                                                  durability mode = durability::fsync,
                                                                  bool search = true);

  [[nodiscard]] user_store& users() { return users_; }
  [[nodiscard]] const user_store& users() const { return users_; }
  [[nodiscard]] room_store& rooms() { return rooms_; }
  [[nodiscard]] const room_store& rooms() const { return rooms_; }
  [[nodiscard]] log_store& log() { return log_; }
  [[nodiscard]] const log_store& log() const { return log_; }
  [[nodiscard]] file_store& files() { return files_; }
  [[nodiscard]] const file_store& files() const { return files_; }
  [[nodiscard]] handoff_store& handoff() { return handoff_; }
  [[nodiscard]] const handoff_store& handoff() const { return handoff_; }

  // Group commit (actors/syncer.hpp): writes counted so far, and the fsync
  // of the WAL that makes them durable.
  [[nodiscard]] std::uint64_t written() const { return db_->written(); }
  [[nodiscard]] caf::error sync_wal() { return db_->sync_wal(); }
  [[nodiscard]] durability mode() const { return db_->mode(); }
  // The database under every store, for whoever needs its write count and
  // WAL sync (the group commit) without the stores.
  [[nodiscard]] std::shared_ptr<database> shared_database() const { return db_; }

 private:
  explicit store(std::shared_ptr<database> db) : db_(db), users_(db), rooms_(db), log_(db), files_(db), handoff_(db) {}

  std::shared_ptr<database> db_;
  user_store users_;
  room_store rooms_;
  log_store log_;
  file_store files_;
  handoff_store handoff_;
};

}  // namespace confab::storage
