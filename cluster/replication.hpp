#pragma once

// The rules of docs/REPLICATION.md for one room's replicated log, as plain
// values and state machines with no actor and no I/O, so that every rule can
// be checked on its own; actors/replica.hpp carries them between nodes.
//
// - copy: what every copy (owner or follower) keeps and how it answers a
//   prepare (rule 3) and an append (rules 1 and 4).
// - owner: the bookkeeping of the owner of one epoch over a copy set: what to
//   send to each follower (one batch at a time, every entry it has ready)
//   and what is committed (rule 2).
// - takeover: the promises a node collects for a new epoch, and whose log
//   it must start from (rule 3).

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace confab::cluster::replication {

// (counter, node id), ordered by counter then id: no two nodes make the same.
struct epoch {
  std::uint64_t counter = 0;
  std::string node;
  friend auto operator<=>(const epoch&, const epoch&) = default;
};

struct entry {
  epoch by;
  std::uint64_t index = 0;
  std::string key;  // what a retry names it by (a client_msg_id), or empty
  std::string payload;
  friend bool operator==(const entry&, const entry&) = default;
};

// The last entry of a log: a log is more up to date than another when its
// last entry has a higher epoch, or the same epoch and a higher index.
struct position {
  epoch by;
  std::uint64_t index = 0;
  friend auto operator<=>(const position&, const position&) = default;
};

// -- messages between copies ---------------------------------------------------

struct prepare_reply {
  bool ok = false;
  epoch promised;  // on refusal: the newer epoch the copy has promised
  position last;
  std::uint64_t committed = 0;
  std::vector<std::string> copies;  // the copy set of its log
};

struct append_request {
  epoch by;
  std::uint64_t prev_index = 0;  // the entry just before `entries`
  epoch prev_epoch;
  std::vector<entry> entries;
  std::uint64_t committed = 0;  // the owner's commit point
};

struct append_reply {
  bool ok = false;
  epoch promised;  // on refusal for an older epoch: the newer one
  // ok: the copy's log matches the owner's up to here. Refused for a gap or
  // a different entry at prev_index: the index the owner should send from.
  std::uint64_t index = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, epoch& x) {
  return f(x.counter, x.node);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, entry& x) {
  return f(x.by, x.index, x.key, x.payload);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, position& x) {
  return f(x.by, x.index);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, prepare_reply& x) {
  return f(x.ok, x.promised, x.last, x.committed, x.copies);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_request& x) {
  return f(x.by, x.prev_index, x.prev_epoch, x.entries, x.committed);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_reply& x) {
  return f(x.ok, x.promised, x.index);
}

// -- copy-set changes (docs/REPLICATION.md, "Changing a copy set") ------------

// The key of an entry that sets the room's copy set; no client key can be it
// (those begin with a user id).
inline constexpr std::string_view copies_key = "\x01copies";
[[nodiscard]] entry copies_entry(const std::vector<std::string>& copies);
[[nodiscard]] bool is_copies(const entry& e);
// The set a copies entry names.
[[nodiscard]] std::vector<std::string> copies_of(const entry& e);

// -- one copy ------------------------------------------------------------------

// Where a copy keeps its log on disk. A copy calls it before it answers, so
// that what it answered survives a crash: save_state when its promise
// changes (with the commit point as known then; a stale commit point after a
// restart is safe, it is learnt again), save_entries when its log changes.
class log_store {
 public:
  virtual ~log_store() = default;
  // `copies`: the copy set of the log now (where requests go, read before
  // the log is).
  [[nodiscard]] virtual caf::error save_state(const epoch& promised, std::uint64_t committed,
                                              const std::vector<std::string>& copies) = 0;
  // Removes the entries after `truncate_after` (UINT64_MAX: none), then
  // writes `entries`.
  [[nodiscard]] virtual caf::error save_entries(std::uint64_t truncate_after, const std::vector<entry>& entries) = 0;
  // Up to `max` entries after `after`, in index order.
  [[nodiscard]] virtual caf::expected<std::vector<entry>> read(std::uint64_t after, std::size_t max) const = 0;
};

// The log of one copy, from index 1, on disk (with a log_store) and, from
// `kept` entries before the commit point on, in memory too: older entries
// are read from disk when a follower or a takeover needs them. Without a
// log_store everything stays in memory.
class copy {
 public:
  static constexpr std::uint64_t default_kept = 1024;

  copy() = default;
  // A copy that starts from what `disk` kept; `copies`: the set it was made
  // with (the log's copies entries change it).
  copy(std::shared_ptr<log_store> disk, epoch promised, std::uint64_t committed, std::vector<entry> log,
       std::vector<std::string> copies = {}, std::uint64_t kept = default_kept);
  // A copy in memory only, made with the set `copies`.
  explicit copy(std::vector<std::string> copies) : copy(nullptr, {}, 0, {}, std::move(copies)) {}

  [[nodiscard]] const epoch& promised() const { return promised_; }
  [[nodiscard]] std::uint64_t committed() const { return committed_; }
  // The copy set of the last copies entry in the log, committed or not (the
  // set the copy was made with when there is none), and that entry's index.
  [[nodiscard]] const std::vector<std::string>& copies() const { return sets_.back().second; }
  [[nodiscard]] std::uint64_t copies_index() const { return sets_.back().first; }
  [[nodiscard]] position last() const;
  [[nodiscard]] std::uint64_t last_index() const { return base_ + log_.size(); }
  // Entries up to here are on disk only.
  [[nodiscard]] std::uint64_t base() const { return base_; }
  [[nodiscard]] std::size_t in_memory() const { return log_.size(); }
  // The epoch of the entry at `index` (an empty epoch for 0).
  [[nodiscard]] epoch epoch_at(std::uint64_t index) const;
  // The entry at `index` (1..last_index()); one that the disk fails to give
  // has index 0.
  [[nodiscard]] entry at(std::uint64_t index) const;
  // Entries after `after`, at most `max` of them (fewer when the disk fails).
  [[nodiscard]] std::vector<entry> range(std::uint64_t after, std::size_t max) const;
  // Entries removed by truncation so far (never a committed one), and
  // entries taken from owners' batches.
  [[nodiscard]] std::uint64_t truncated() const { return truncated_; }
  [[nodiscard]] std::uint64_t taken() const { return taken_; }

  // Rule 3: promise `e` (refuse appends of older epochs from now on) unless a
  // newer epoch was promised already. An error: the disk failed, nothing
  // was promised.
  caf::expected<prepare_reply> on_prepare(const epoch& e);
  // Rules 1 and 4. An error: the disk failed; the owner sends it again.
  caf::expected<append_reply> on_append(const append_request& req);

  // The owner of `promised()` appends one entry; returns its index.
  caf::expected<std::uint64_t> append_local(std::string key, std::string payload);
  // The same for several (key, payload), written in one batch; returns the
  // last index.
  caf::expected<std::uint64_t> append_local(std::vector<std::pair<std::string, std::string>> items);
  // A new owner adopts the most up-to-date log of its majority: its own
  // entries after `after` (never committed ones) give way to `tail`.
  caf::error adopt(std::uint64_t after, std::vector<entry> tail);
  // The owner's commit point moved.
  void commit(std::uint64_t index);
  // Group commit (--durability fsync): after defer_sync(), an entry counts
  // as this copy's own (for the owner's commit point, for a follower's
  // answer) only once synced_to() covers it; without it, at once.
  void defer_sync() {
    deferred_ = true;
    synced_ = last_index();
  }
  [[nodiscard]] std::uint64_t synced() const { return deferred_ ? std::min(synced_, last_index()) : last_index(); }
  void synced_to(std::uint64_t index) { synced_ = std::max(synced_, std::min(index, last_index())); }
  // Keeps `n` entries before the commit point in memory from now on.
  void keep(std::uint64_t n) {
    kept_ = n;
    trim();
  }

 private:
  void truncate_after(std::uint64_t index);
  void push(entry e);
  // Saves the state again when the copy set is not `before` any more.
  caf::error sets_changed(const std::vector<std::string>& before);
  // Drops from memory what is `kept_` entries before the commit point.
  void trim();
  // Raises the promise to `e` (not older than it), on disk before it counts.
  caf::error promise(const epoch& e);

  std::shared_ptr<log_store> disk_;
  epoch promised_;
  std::deque<entry> log_;  // the entries after base_
  std::uint64_t base_ = 0;
  // Each epoch of the log and its first index, in order (Kafka's leader
  // epoch cache): the epoch of any entry without reading it.
  std::vector<std::pair<epoch, std::uint64_t>> epochs_;
  // Each copy set and the index of the entry that set it (0: the first).
  std::vector<std::pair<std::uint64_t, std::vector<std::string>>> sets_{{0, {}}};
  std::uint64_t kept_ = default_kept;
  std::uint64_t committed_ = 0;
  bool deferred_ = false;
  std::uint64_t synced_ = 0;
  std::uint64_t truncated_ = 0;
  std::uint64_t taken_ = 0;
};

// -- the owner of one epoch --------------------------------------------------

class owner {
 public:
  // `followers`: the copy set without this node; `local`: this node's copy,
  // which has promised `e`.
  owner(epoch e, std::vector<std::string> followers, const copy& local);

  [[nodiscard]] const epoch& of() const { return epoch_; }
  [[nodiscard]] std::size_t majority() const;
  // Those it sends to: the copy set but itself, and learners.
  [[nodiscard]] std::vector<std::string> followers() const;
  // A node that is to join the copy set gets the log first, counting for
  // nothing (a learner), from where its own log ends.
  void learn(const std::string& node, const copy& local);
  // A learner that is not to join after all is sent nothing more.
  void forget_learner(const std::string& node);
  // The copy set changed (a copies entry in the owner's log): its members
  // count from now on; a removed node becomes a learner (it is sent the
  // entry that removed it, then forgotten: forget_learner).
  void follow(const std::vector<std::string>& copies, const std::string& self, const copy& local);
  // The last index known to be on `node` (0 for one this owner does not send to).
  [[nodiscard]] std::uint64_t match(const std::string& node) const;
  // The commit point `node` has acknowledged (0 likewise).
  [[nodiscard]] std::uint64_t told(const std::string& node) const;

  // The next batch for `follower`: every entry from where it stands, at most
  // `max`, or nothing while a batch to it is unanswered (or it has them all).
  std::optional<append_request> batch_for(const std::string& follower, const copy& local, std::size_t max);
  // An unanswered batch is given up (lost link, timeout): the next
  // batch_for sends it again.
  void lost(const std::string& follower);
  // A follower's answer. Returns false when it has promised a newer epoch:
  // this owner must stop acknowledging anything.
  bool on_reply(const std::string& follower, const append_reply& reply);
  // Rule 2: the highest index that a majority holds and whose entry is of
  // this epoch (so everything before it is committed too), or the old
  // commit point.
  [[nodiscard]] std::uint64_t commit_point(const copy& local) const;

 private:
  struct progress {
    std::uint64_t next = 1;     // the first entry to send
    std::uint64_t match = 0;    // known to be on the follower
    std::uint64_t told = 0;     // the commit point it has acknowledged
    std::uint64_t telling = 0;  // the commit point of the batch in flight
    bool waiting = false;       // a batch is in flight
    bool voter = true;          // false: a learner
  };
  epoch epoch_;
  std::map<std::string, progress> followers_;
};

// -- taking a room: the promises for a new epoch -------------------------------

//
// Promises count against the copy set of the most up-to-date log among them
// (docs/REPLICATION.md, "Changing a copy set"): the set the takeover started
// with until then.
class takeover {
 public:
  // `copies`: the copy set of this node's log, this node included.
  takeover(epoch e, std::vector<std::string> copies);

  [[nodiscard]] const epoch& of() const { return epoch_; }
  // Records `from`'s answer. False when it promised a newer epoch (give up;
  // try again later above `newer()`).
  bool on_reply(const std::string& from, const prepare_reply& reply);
  // The set the promises count against now.
  [[nodiscard]] const std::vector<std::string>& copies() const;
  [[nodiscard]] bool has_majority() const;
  // Members of that set not asked yet; they count as asked from now on.
  std::vector<std::string> to_ask();
  [[nodiscard]] const epoch& newer() const { return newer_; }
  // With a majority: the copy whose log is the most up to date (this node on
  // a tie), where that log ends, and the highest commit point among them
  // (which that log contains: leader completeness).
  [[nodiscard]] std::string best() const;
  [[nodiscard]] position best_last() const;
  [[nodiscard]] std::uint64_t committed() const;

 private:
  epoch epoch_;
  std::vector<std::string> copies_;
  std::map<std::string, prepare_reply> promises_;
  std::vector<std::string> asked_;
  epoch newer_;
};

}  // namespace confab::cluster::replication
