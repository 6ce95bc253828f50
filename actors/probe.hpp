#pragma once

// What the admin view sees of each actor of a node (PROTOCOL.md section 4,
// `actors`): messages waiting and handled, when it started and last worked,
// and a few numbers for its one-line detail. CAF cannot list live actors, so
// the node keeps its own index.
//
// An actor spawned as `probed<State>` counts every message it is sent and
// every message it handles in relaxed atomics (its own thread writes
// `processed`, any sender's thread `enqueued`); it appears in the index once it
// calls probe_as() and leaves it when it ends. Any thread may read a probe.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "api/sinks.hpp"

namespace confab::actors {

struct actor_probe {
  std::int64_t since = 0;  // ms
  std::atomic<std::uint64_t> enqueued{0};
  std::atomic<std::uint64_t> processed{0};
  std::atomic<std::int64_t> last_active{0};
  // Set by probe_as() before the probe is listed; constant afterwards.
  std::string kind;
  std::string id;
  caf::actor_addr addr;
  // Detail numbers; their meaning depends on the kind (see detail()).
  std::atomic<std::uint64_t> n1{0}, n2{0}, n3{0};
  // Sessions: the client's address and socket, for its queued bytes (set
  // once, before listing).
  std::string remote;
  api::sink_ptr sink;

  [[nodiscard]] std::uint64_t mailbox() const;
  // Text that changes rarely: a session's user (id and username), a room's
  // name, a presence's "user=.. status=..".
  void set_text(std::string user_id, std::string text);
  [[nodiscard]] std::pair<std::string, std::string> text() const;

 private:
  mutable std::mutex mtx_;
  std::string user_id_;
  std::string text_;
};
using probe_ptr = std::shared_ptr<actor_probe>;

// The listed actors of one node. Thread-safe.
class actor_index {
 public:
  void add(probe_ptr p);
  void remove(const actor_probe* p);
  [[nodiscard]] std::vector<probe_ptr> all() const;
  // Live actors by kind.
  [[nodiscard]] std::map<std::string, std::uint64_t> counts() const;
  [[nodiscard]] std::uint64_t count(const std::string& kind) const;
  // The probe of a kind with an id; null when none.
  [[nodiscard]] probe_ptr find(const std::string& kind, const std::string& id) const;

 private:
  mutable std::mutex mtx_;
  std::unordered_map<const actor_probe*, probe_ptr> live_;
  std::map<std::string, std::uint64_t> counts_;
};

class probed_actor : public caf::event_based_actor {
 public:
  explicit probed_actor(caf::actor_config& cfg);
  void enqueue(caf::mailbox_element_ptr what, caf::execution_unit* host) override;
  caf::invoke_message_result consume(caf::mailbox_element& x) override;
  // Lists this actor in `index` until it ends; from then on, a message no
  // handler matches is counted and dropped (api::drop_unexpected).
  actor_probe& probe_as(const std::shared_ptr<actor_index>& index, std::string kind, std::string id);
  [[nodiscard]] actor_probe& probe() { return *probe_; }

 private:
  probe_ptr probe_;
};

template <class State>
using probed = caf::stateful_actor<State, probed_actor>;

// The one-line detail the admin view shows for a probe.
[[nodiscard]] std::string detail(const actor_probe& p);

// Whether `sort` names an order of the listing: mailbox, processed,
// last_active, since (largest first) or id.
[[nodiscard]] bool known_sort(const std::string& sort);
// Orders a listing; ties go by node, kind and id, so pages are stable.
void sort_actors(std::vector<api::actor_info>& list, const std::string& sort);
// The first q.limit actors of this node that match q, in q.sort order, and
// how many matched.
[[nodiscard]] api::actor_page list_actors(const actor_index& index, const std::string& node, const api::actor_query& q);
// The sessions of a user on this node (detail: the client's address).
[[nodiscard]] std::vector<api::actor_info> sessions_of(const actor_index& index, const std::string& node,
                                                       const std::string& user_id);

}  // namespace confab::actors
