#pragma once

// Replica actor: one copy of one room's replicated log on one node
// (docs/REPLICATION.md). Every copy answers prepares, appends and fetches;
// the copy that took the room with the newest epoch is its owner and alone
// accepts writes, which it acknowledges once a majority of the copy set holds
// them. It takes the room only when told to (take_atom: the failure detector's
// or a drain's decision), and only with a majority's promises.
//
// Messages:
//   (peers_atom, map<node, actor>)  the copies this node can reach now
//   (take_atom) -> bool             become the owner with a new epoch;
//                                   answered once this copy serves (its
//                                   first entry of the epoch committed, so
//                                   every entry before it is applied), an
//                                   error when it could not (no majority)
//   (write_atom, key, payload) -> index   owner only; a key already in the
//                                   log answers its first index (no duplicate)
//   (read_atom, after, max) -> vector<entry>   committed entries only
//   (replace_atom, out, in) -> bool  owner only: `in` joins the copy set
//                                   (after catching up as a learner), then
//                                   `out` leaves it, one committed change
//                                   at a time; either may be empty. When
//                                   `out` is this copy, it moves last in
//                                   the set and steps down instead (the
//                                   next copy removes it)
//   (admin_atom) -> (copies, epoch counter)
//   (dropped_atom, room)             from the room manager: an owner says this
//                                   copy left the set; once its own committed
//                                   log says so, it tells the manager
//                                   (dropped_atom, room, true) and quits
//   (prepare_atom, room, copies, epoch) -> prepare_reply,
//   (append_atom, room, copies, append_request) -> append_reply,
//   (fetch_atom, room, epoch, after, max) -> vector<entry> (only while the
//   copy's promise is that epoch): between copies. They name the room and
//   its copy set so that a node's room manager can start the copy that
//   answers them (actors/room_manager.cpp).
//
// Whenever the copy set of its log changes, the copy tells `manager`
// (copies_atom, room, copies), so that requests go to the right nodes.
//
// Log writes go to the WAL; with `sync`, they count (for the owner's
// commit, in a follower's answer) once the syncer has fsynced them, so
// that the writes of every room on the node share fsyncs.
//
// The log is held by `log`, which outlives the actor: a restarted copy
// starts from what it had (its tail in memory, the rest read from disk).
// `apply` is called with each committed entry, in index order (again after
// a restart, from the commit point the copy had saved), until it succeeds:
// an entry it fails is tried again, never skipped. The room's state on this
// node follows the log.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <functional>

#include <caf/actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "api/ids.hpp"
#include "api/interfaces.hpp"
#include "cluster/replication.hpp"

namespace confab::actors {

// Group commit of the log's writes under --durability fsync: the node's
// syncer (actors/syncer.hpp) and its store's count of writes. Without a
// syncer an entry counts as soon as it is written.
struct replica_sync {
  api::syncer_actor syncer;
  std::function<std::uint64_t()> written;
};

struct replica_state {
  static inline const char* name = "confab.replica";

  api::room_id room;
  std::string node;
  caf::actor manager;
  std::vector<std::string> told_copies;             // the copy set the manager knows
  std::shared_ptr<cluster::replication::copy> log;  // its copies(): the copy set
  std::map<std::string, caf::actor> peers;
  std::optional<cluster::replication::owner> leading;
  std::optional<cluster::replication::takeover> taking;
  bool adopting = false;  // the takeover has its majority and fetches the log
  cluster::replication::epoch newest_seen;
  // Writers waiting for their entry to commit, by index.
  std::multimap<std::uint64_t, caf::response_promise> acks;
  // key -> index of every keyed entry in the log.
  std::map<std::string, std::uint64_t> keys;
  // Writes taken but not in the log yet: every write that arrives before
  // the flush goes to disk in one batch (one fsync under --durability fsync).
  std::vector<std::pair<std::string, std::string>> unsaved;
  std::function<caf::error(const cluster::replication::entry&)> apply;
  std::uint64_t applied = 0;
  // Those waiting for this copy to serve, and the index of the first entry
  // of its epoch (committed: it serves).
  std::vector<caf::response_promise> ready;
  std::uint64_t first_of_epoch = 0;
  std::uint64_t appends = 0;  // batches received as a follower
  // A copy-set change under way (owner only): the copies entry it waits
  // for to commit (0: none yet).
  struct change {
    std::string out;
    std::string in;
    caf::response_promise rp;
    std::uint64_t index = 0;
    std::uint64_t id = 0;
  };
  std::optional<change> changing;
  // Nodes this owner removed from the set -> the index of that entry: they
  // are sent it (as learners), then told to drop their copy.
  std::map<std::string, std::uint64_t> dropping;
  std::uint64_t changes = 0;
  std::chrono::milliseconds change_timeout{60000};
  replica_sync sync;
  bool syncing = false;  // an fsync asked for and not answered yet
  // A follower's answers that wait for the fsync of what they acknowledge.
  std::vector<std::pair<cluster::replication::append_reply, caf::response_promise>> unsynced;
  std::size_t batch_max = 512;
  std::chrono::milliseconds timeout{2000};
};

caf::behavior replica_actor(caf::stateful_actor<replica_state>* self, api::room_id room, std::string node,
                            std::shared_ptr<cluster::replication::copy> log,
                            std::function<caf::error(const cluster::replication::entry&)> apply, caf::actor manager,
                            replica_sync sync);

// Whether the copy serves: it owns the room, its epoch's first entry is
// committed, and every entry of its log is committed and applied.
[[nodiscard]] bool serving(const replica_state& st);

}  // namespace confab::actors
