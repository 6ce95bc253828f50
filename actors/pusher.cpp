#include "actors/pusher.hpp"

#include <spdlog/spdlog.h>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "api/atoms.hpp"
#include "api/metrics.hpp"

namespace confab::actors {

namespace {

using self_ptr = pusher_self*;

void send_front(self_ptr self) {
  auto& st = self->state;
  if (st.busy || st.queue.empty())
    return;
  st.busy = true;
  ++st.queue.front().attempts;
  api::pusher_actor me{self};
  st.transport->post(st.queue.front().body,
                     [me](bool delivered) { caf::anon_send(me, api::pushed_atom::value, delivered); });
}

void on_result(self_ptr self, bool delivered) {
  auto& st = self->state;
  if (st.queue.empty())
    return;
  auto& front = st.queue.front();
  if (delivered) {
    ++st.delivered;
  } else if (front.attempts <= st.ctx->lim.push_retries) {
    auto delay = std::chrono::milliseconds(std::uint64_t{st.ctx->lim.push_backoff_ms} << (front.attempts - 1));
    self->delayed_send(self, delay, api::retry_atom::value);
    return;  // still busy with the front until the retry
  } else {
    ++st.dropped;
    api::node_metrics().webhook_dropped.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("push webhook: dropped a notification after {} attempts ({} dropped so far)", front.attempts,
                 st.dropped);
  }
  st.queue.pop_front();
  st.busy = false;
  send_front(self);
}

}  // namespace

api::pusher_actor::behavior_type pusher_actor(self_ptr self, context_ptr ctx,
                                              std::shared_ptr<api::push_transport> transport) {
  self->state.ctx = std::move(ctx);
  self->state.transport = std::move(transport);
  return {
      [=](api::push_atom, std::string& body) {
        auto& st = self->state;
        if (st.queue.size() >= st.ctx->lim.push_queue) {
          ++st.dropped;
          api::node_metrics().webhook_dropped.fetch_add(1, std::memory_order_relaxed);
          spdlog::warn("push webhook: queue full, dropped a notification ({} dropped so far)", st.dropped);
          return;
        }
        st.queue.push_back({std::move(body), 0});
        send_front(self);
      },
      [=](api::pushed_atom, bool delivered) { on_result(self, delivered); },
      [=](api::retry_atom) {
        self->state.busy = false;
        send_front(self);
      },
  };
}

}  // namespace confab::actors
