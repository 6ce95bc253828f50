#pragma once

// Pusher: one per node when --push-webhook is set. A bounded queue of offline
// notifications, sent one at a time through the push transport, each retried
// with exponential backoff and then dropped. A dead webhook costs at most the
// queue's memory and never delays chat: nothing waits on this actor.

#include <deque>

#include <caf/stateful_actor.hpp>

#include "actors/context.hpp"
#include "api/interfaces.hpp"
#include "api/sinks.hpp"

namespace confab::actors {

struct pusher_state {
  static inline const char* name = "confab.pusher";

  struct item {
    std::string body;
    std::uint32_t attempts = 0;
  };
  context_ptr ctx;
  std::shared_ptr<api::push_transport> transport;
  std::deque<item> queue;
  bool busy = false;  // a post or a backoff is under way for queue.front()
  std::uint64_t delivered = 0;
  std::uint64_t dropped = 0;
};

using pusher_self = caf::stateful_actor<pusher_state, api::pusher_actor::base>;

api::pusher_actor::behavior_type pusher_actor(pusher_self* self, context_ptr ctx,
                                              std::shared_ptr<api::push_transport> transport);

}  // namespace confab::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<confab::api::push_transport>)
