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
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "api/messages.hpp"
#include "api/sinks.hpp"

namespace confab::api {

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
  sink_ptr sink;

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

// Counts what a probed actor is sent and handles (below); not templated, so
// that the template stays a few lines.
void count_enqueued(actor_probe& p);
void count_consumed(actor_probe& p);
probe_ptr make_probe();
// Lists `self` in `index` until it ends; from then on, a message no handler
// matches is counted and dropped (drop_unexpected).
void list_probe(caf::scheduled_actor& self, const probe_ptr& p, const std::shared_ptr<actor_index>& index,
                std::string kind, std::string id);

// Base: caf::event_based_actor, or the typed_event_based_actor of a typed
// interface (api/interfaces.hpp).
template <class Base>
class probed_base : public Base {
 public:
  explicit probed_base(caf::actor_config& cfg) : Base(cfg), probe_(make_probe()) {}
  void enqueue(caf::mailbox_element_ptr what, caf::execution_unit* host) override {
    count_enqueued(*probe_);
    Base::enqueue(std::move(what), host);
  }
  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    count_consumed(*probe_);
    return Base::consume(x);
  }
  actor_probe& probe_as(const std::shared_ptr<actor_index>& index, std::string kind, std::string id) {
    list_probe(*this, probe_, index, std::move(kind), std::move(id));
    return *probe_;
  }
  [[nodiscard]] actor_probe& probe() { return *probe_; }

 private:
  probe_ptr probe_;
};

using probed_actor = probed_base<caf::event_based_actor>;

// A stateful probed actor; Base as above.
template <class State, class Base = caf::event_based_actor>
using probed = caf::stateful_actor<State, probed_base<Base>>;

// A message from any actor to any handle: to a typed one it is self->send(),
// checked against the receiver's interface; to an actor that has no typed
// interface (CAF lets typed actors send() only to typed ones) it is sent
// with the actor as its sender, so that the receiver can check who it came
// from.
template <class Self, class Dest, class... Ts>
void tell(Self* self, const Dest& dest, Ts&&... xs) {
  if constexpr (std::is_same_v<Dest, caf::actor>)
    caf::unsafe_send_as(self, dest, std::forward<Ts>(xs)...);
  else
    self->send(dest, std::forward<Ts>(xs)...);
}

// A long-lived actor (manager, hub, account, frontend) must not end because
// an error arrives that nobody asked for (CAF's default): it is logged and
// dropped.
void log_stray_errors(caf::scheduled_actor* self, const char* who);

// The one-line detail the admin view shows for a probe.
[[nodiscard]] std::string detail(const actor_probe& p);

// Whether `sort` names an order of the listing: mailbox, processed,
// last_active, since (largest first) or id.
[[nodiscard]] bool known_sort(const std::string& sort);
// Orders a listing; ties go by node, kind and id, so pages are stable.
void sort_actors(std::vector<actor_info>& list, const std::string& sort);
// The first q.limit actors of this node that match q, in q.sort order, and
// how many matched.
[[nodiscard]] actor_page list_actors(const actor_index& index, const std::string& node, const actor_query& q);
// The sessions of a user on this node (detail: the client's address).
[[nodiscard]] std::vector<actor_info> sessions_of(const actor_index& index, const std::string& node,
                                                  const std::string& user_id);

}  // namespace confab::api
