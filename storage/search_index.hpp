#pragma once

// The full-text index of the messages stored on this node (Xapian, in
// <data dir>/search): one document per message with text (its body and its
// file's name), found by words of any script (Xapian's Unicode word
// splitting, CJK as n-grams), case folded by Xapian and accents folded
// here; the last word also matches as a prefix and "quoted phrases" match
// in order (PROTOCOL.md section 9). A message without text (deleted,
// end-to-end encrypted, a file without a name) has no document.
//
// The log store hands it every message it writes, in order; a worker thread
// indexes them in batches, off the room actors' threads. A search first
// indexes whatever is still queued, so it sees every stored message. The
// index is derived data: after a crash (the marker file `dirty` is there at
// start) it is rebuilt from the messages in RocksDB.
//
// Thread-safe; every Xapian error becomes a caf::error here.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "api/ids.hpp"

namespace Xapian {
class WritableDatabase;
}

namespace confab::storage {

struct search_hit {
  api::room_id room;
  api::seq_t seq = 0;
  std::string key;  // orders hits newest first (descending); the cursor
};

class search_index {
 public:
  // Opens or creates the index in `dir`; needs_rebuild() tells whether it
  // must be filled again from every stored message (new, or not closed
  // cleanly).
  [[nodiscard]] static caf::expected<std::unique_ptr<search_index>> open(const std::string& dir);
  ~search_index();  // indexes what is queued, commits, and marks it clean
  search_index(const search_index&) = delete;
  search_index& operator=(const search_index&) = delete;

  [[nodiscard]] bool needs_rebuild() const { return needs_rebuild_; }
  // Fills an index that needs it: `each` calls its argument with every
  // stored message's JSON.
  [[nodiscard]] caf::error rebuild(const std::function<caf::error(const std::function<void(std::string_view)>&)>& each);

  // A message as stored now (new, edited, deleted, a thread root changed).
  void queue(std::string message_json);
  // Every document of a room (dropped from this node).
  void queue_drop(const api::room_id& room);

  // Up to `limit` hits for `query` among `rooms`, newest first, below the
  // cursor `before` (empty: from the newest). invalid_request for a query
  // with no word.
  [[nodiscard]] caf::expected<std::vector<search_hit>> search(const std::string& query,
                                                              const std::vector<api::room_id>& rooms,
                                                              const std::string& before, std::uint32_t limit);
  // Documents in the index (tests, metrics).
  [[nodiscard]] caf::expected<std::uint64_t> size();

  // Marks an index in `dir` as behind (a node that runs without search).
  [[nodiscard]] static bool mark_stale(const std::string& dir);

  // Accents off (canonical decomposition without combining marks): what
  // is indexed and what is searched for; Xapian folds the case.
  [[nodiscard]] static std::string fold(std::string_view utf8);

 private:
  search_index() = default;
  void work();
  // With work_: indexes what is queued (the oldest `most` of it).
  caf::error drain(std::size_t most = SIZE_MAX);
  void index(std::string_view message_json);

  std::string dir_;
  bool needs_rebuild_ = false;
  std::unique_ptr<Xapian::WritableDatabase> db_;  // with work_
  bool lost_ = false;                             // with work_: a job failed or was dropped; stays dirty
  std::mutex work_;
  std::uint64_t uncommitted_ = 0;  // with work_
  std::int64_t committed_at_ = 0;  // with work_ (steady ms)
  // The queue: a message's JSON, or a room to drop (drop_ set).
  struct job {
    std::string text;
    bool drop = false;
  };
  std::mutex queue_;
  std::condition_variable wake_;
  std::vector<job> jobs_;    // with queue_
  bool stop_ = false;        // with queue_
  bool overflowed_ = false;  // with queue_: a job was dropped (queue full)
  std::thread worker_;
};

}  // namespace confab::storage
