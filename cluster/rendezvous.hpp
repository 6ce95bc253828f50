#pragma once

// Rendezvous (highest random weight) hashing: every node computes, for a key
// and the list of live members, the same ranking, with no directory and no
// coordination. Adding or removing a member moves only the keys it wins or
// held (about 1/N of them). Pure functions; any thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace confab::cluster {

// The weight of `node` for `key`; deterministic across processes and builds.
[[nodiscard]] std::uint64_t rendezvous_weight(std::string_view key, std::string_view node);

// Index into `nodes` of the node with the highest weight for `key`
// (ties go to the smaller node id); nodes must not be empty.
[[nodiscard]] std::size_t rendezvous_owner(std::string_view key, const std::vector<std::string>& nodes);

// Indexes into `nodes`, best first: the owner, then the replicas.
[[nodiscard]] std::vector<std::size_t> rendezvous_rank(std::string_view key, const std::vector<std::string>& nodes);

// Where a room's copies go (docs/REPLICATION.md, "Where copies go"): the
// next single-node change of the copy set `copies` toward the first `n` of
// the key's rendezvous order over the members that own ids (`live`) and
// those that are `down`: `out` leaves, `in` joins (either may be empty; both
// empty: no change). `leaving` members (removed or draining) always leave; a
// copy in none of the lists counts as down (a member not heard of yet).
// No change is made whose set would not have a live majority.
struct copy_change {
  std::string out;
  std::string in;
};
[[nodiscard]] copy_change next_copy_change(std::string_view key, const std::vector<std::string>& copies,
                                           const std::vector<std::string>& live, const std::vector<std::string>& down,
                                           const std::vector<std::string>& leaving, std::size_t n);

// The placement keys of each kind, kept apart so that a user's account,
// presence and rooms are spread independently.
[[nodiscard]] std::string room_key(std::string_view room);
[[nodiscard]] std::string account_key(std::string_view username);
[[nodiscard]] std::string presence_key(std::string_view user);
[[nodiscard]] std::string file_key(std::string_view file);

}  // namespace confab::cluster
