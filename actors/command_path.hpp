#pragma once

// The one path of a client command after wire/ decoded it, whichever
// transport it came in: the session (WebSocket) and the HTTP frontend are
// adapters that decode, call here, and encode the answer their way. Runs in
// the calling actor.

#include <functional>

#include <caf/duration.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>

#include "actors/context.hpp"
#include "api/commands.hpp"
#include "api/messages.hpp"

namespace confab::actors {

// A message from `from`: its file attached (when it names one), then to the
// room's owner; `done` gets the ack (the message is durable) or the error.
// Observes the ack latency.
void submit_send(caf::event_based_actor* self, const node_context& ctx, api::caller from, api::send_command cmd,
                 caf::duration timeout, std::function<void(caf::expected<api::send_ack>)> done);

// A history page for `user`, served by the node that holds the room.
void submit_history(caf::event_based_actor* self, const node_context& ctx, const api::user_id& user,
                    const api::history_command& cmd, caf::duration timeout,
                    std::function<void(caf::expected<api::history_page>)> done);

}  // namespace confab::actors
