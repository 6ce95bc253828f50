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
//   (take_atom)                     try to become the owner with a new epoch
//   (write_atom, key, payload) -> index   owner only; a key already in the
//                                   log answers its first index (no duplicate)
//   (read_atom, after, max) -> vector<entry>   committed entries only
//   (prepare_atom, epoch) -> prepare_reply, (append_atom, append_request) ->
//   append_reply, (fetch_atom, epoch, after, max) -> vector<entry> (only
//   while the copy's promise is that epoch): between copies.
//
// The log is held by `log`, which outlives the actor: the seam where the
// room's storage goes (a restarted copy starts from what it had).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>

#include "cluster/replication.hpp"

namespace confab::actors {

struct replica_state {
  static inline const char* name = "confab.replica";

  std::string node;
  std::vector<std::string> copies;  // the copy set, this node included
  std::shared_ptr<cluster::replication::copy> log;
  std::map<std::string, caf::actor> peers;
  std::optional<cluster::replication::owner> leading;
  std::optional<cluster::replication::takeover> taking;
  bool adopting = false;  // the takeover has its majority and fetches the log
  cluster::replication::epoch newest_seen;
  // Writers waiting for their entry to commit, by index.
  std::multimap<std::uint64_t, caf::response_promise> acks;
  // key -> index of every keyed entry in the log.
  std::map<std::string, std::uint64_t> keys;
  std::uint64_t appends = 0;  // batches received as a follower
  std::size_t batch_max = 512;
  std::chrono::milliseconds timeout{2000};
};

caf::behavior replica_actor(caf::stateful_actor<replica_state>* self, std::string node, std::vector<std::string> copies,
                            std::shared_ptr<cluster::replication::copy> log);

}  // namespace confab::actors
