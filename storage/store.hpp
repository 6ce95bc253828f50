#pragma once

// The node's RocksDB store. Thread-safe (RocksDB is); shared by the actors of
// one node. Every rocksdb::Status becomes a caf::error at this boundary: a
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

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "api/messages.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Slice;
class Status;
class WriteBatch;
}  // namespace rocksdb

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
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stored_user& x) {
  return f(caf::meta::type_name("confab::stored_user"), x.info, x.password_hash, x.created_at, x.tokens_valid_after,
           x.keep_jti, x.version);
}

// A message to append, with the dedupe record written in the same batch.
using file_record = api::file_info;

struct append_entry {
  api::room_id room;
  api::seq_t seq = 0;
  std::string message_json;
  api::user_id from;
  std::string client_msg_id;  // empty: no dedupe record
};

// When a write reaches the disk (--durability). Appends and read markers
// always go to the WAL only: with fsync, their acks wait for a group commit
// (sync_wal, driven by actors/syncer.hpp). Every other write (users, rooms,
// members, files, revocations) is fsynced before it returns under fsync.
// Handoff fences and a handoff's last piece are fsynced in both modes.
enum class durability { fsync, wal };

class store {
 public:
  // Opens or creates the store in `dir`. Fails when the directory is unusable
  // or another process holds it.
  [[nodiscard]] static caf::expected<std::shared_ptr<store>> open(const std::string& dir,
                                                                  durability mode = durability::fsync);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

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

  // rooms and members
  [[nodiscard]] caf::error put_room(const api::room_info& room,
                                    const std::vector<std::pair<api::user_id, std::string>>& members);
  [[nodiscard]] caf::expected<api::room_info> room(const api::room_id& id) const;
  // Up to `limit` public rooms with ids after `after` (empty: from the first), by id.
  [[nodiscard]] caf::expected<std::vector<api::room_info>> public_rooms(const std::string& after,
                                                                        std::size_t limit) const;
  [[nodiscard]] caf::expected<std::map<api::user_id, std::string>> members(const api::room_id& id) const;
  [[nodiscard]] caf::error set_member(const api::room_id& room, const api::user_id& user, const std::string& role);
  [[nodiscard]] caf::error remove_member(const api::room_id& room, const api::user_id& user);
  [[nodiscard]] caf::expected<std::vector<api::room_id>> rooms_of(const api::user_id& user) const;

  // messages
  [[nodiscard]] caf::error append(const append_entry& entry);
  [[nodiscard]] caf::expected<api::seq_t> last_seq(const api::room_id& room) const;
  [[nodiscard]] caf::expected<std::string> message(const api::room_id& room, api::seq_t seq) const;
  [[nodiscard]] caf::expected<api::seq_t> dedupe(const api::user_id& user, const api::room_id& room,
                                                 const std::string& client_msg_id) const;
  // Ascending page: with `after`, the oldest `limit` above it (and below
  // `before`); otherwise the newest `limit` below `before` (or overall).
  [[nodiscard]] caf::expected<api::history_page> history(const api::room_id& room, std::optional<api::seq_t> before,
                                                         std::optional<api::seq_t> after, std::uint32_t limit) const;

  // read markers
  [[nodiscard]] caf::expected<api::seq_t> last_read(const api::user_id& user, const api::room_id& room) const;
  [[nodiscard]] caf::error set_last_read(const api::user_id& user, const api::room_id& room, api::seq_t seq);

  // files: chunks are written as they arrive, the record (and the owner's
  // usage) once the upload is complete
  [[nodiscard]] caf::error put_chunk(const std::string& file, std::uint64_t index, std::string_view bytes);
  [[nodiscard]] caf::expected<std::string> chunk(const std::string& file, std::uint64_t index) const;
  [[nodiscard]] caf::error drop_chunks(const std::string& file, std::uint64_t count);
  // A new file is refused (quota_exceeded) when it would take its owner's
  // usage over `quota`; checked and added in one step.
  [[nodiscard]] caf::error put_file(const file_record& file, bool is_new, std::uint64_t quota = UINT64_MAX);
  [[nodiscard]] caf::expected<file_record> file(const std::string& id) const;
  [[nodiscard]] caf::expected<std::uint64_t> usage(const api::user_id& user) const;
  [[nodiscard]] caf::error put_thumbnail(const file_record& file, std::string_view jpeg);
  [[nodiscard]] caf::expected<std::string> thumbnail(const std::string& id) const;

  // handoff (storage/handoff.cpp): moving a room to another node
  // Ids of every room stored here.
  [[nodiscard]] caf::expected<std::vector<api::room_id>> room_ids() const;
  // Up to `limit` messages after `after_seq`; when they are the last ones,
  // the piece is the last and carries the room, members and read markers.
  [[nodiscard]] caf::expected<api::room_piece> export_piece(const api::room_id& room, api::seq_t after_seq,
                                                            std::uint32_t limit) const;
  // Writes a piece; the last one (room, members, markers) in one batch.
  [[nodiscard]] caf::error import_piece(const api::room_piece& piece);
  // The fence of a room being handed off: the node it goes to. While it is
  // set this node serves no request for the room.
  [[nodiscard]] caf::error set_moving(const api::room_id& room, const std::string& target);
  [[nodiscard]] caf::expected<std::string> moving_to(const api::room_id& room) const;
  [[nodiscard]] caf::error clear_moving(const api::room_id& room);
  // Deletes the room and everything kept for it (and its fence), in one
  // batch; with_log: its replicated log and log state too (a copy dropped
  // from the room's copy set).
  [[nodiscard]] caf::error drop_room(const api::room_id& room, bool with_log = false);

  // Group commit: every write is counted once it is in the WAL; sync_wal()
  // fsyncs the WAL, which makes each write counted before it began durable.
  [[nodiscard]] std::uint64_t written() const { return written_.load(std::memory_order_acquire); }
  [[nodiscard]] caf::error sync_wal();
  [[nodiscard]] durability mode() const { return mode_; }

  // replicated logs (docs/REPLICATION.md), as opaque bytes per index. One
  // batch removes the entries after `truncate_after` (none when it is at or
  // past the end) and writes `entries` to the WAL (under fsync the caller
  // makes them durable with sync_wal: a group commit, actors/replica.hpp).
  // The state is always fsynced: safety rests on a promise not being
  // forgotten.
  using log_entries = std::vector<std::pair<std::uint64_t, std::string>>;
  [[nodiscard]] caf::error put_log(const api::room_id& room, std::uint64_t truncate_after, const log_entries& entries);
  // Up to `max` entries after `after`, in index order.
  [[nodiscard]] caf::expected<log_entries> log_range(const api::room_id& room, std::uint64_t after,
                                                     std::size_t max) const;
  [[nodiscard]] caf::error put_log_state(const api::room_id& room, std::string_view state);
  // not_found for a room whose log has no state yet.
  [[nodiscard]] caf::expected<std::string> log_state(const api::room_id& room) const;
  // Every room with a log state here (a copy of it is kept here).
  [[nodiscard]] caf::expected<std::vector<api::room_id>> log_rooms() const;

  // cluster members removed for good (confabctl remove), never admitted
  // again; fsynced
  [[nodiscard]] caf::error add_removed_node(const std::string& id);
  [[nodiscard]] caf::expected<std::vector<std::string>> removed_nodes() const;

  // presence: when the user's last session ended (ms), 0 if never
  [[nodiscard]] caf::expected<std::int64_t> last_seen(const api::user_id& user) const;
  [[nodiscard]] caf::error set_last_seen(const api::user_id& user, std::int64_t when);

 private:
  store() = default;
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
  std::mutex usage_mutex_;  // usage is read, added to and written as one step
};

}  // namespace confab::storage
