#pragma once

// The one path of a client command after wire/ decoded it, whichever
// transport it came in: the session (WebSocket) and the HTTP frontend are
// adapters that decode, call here, and encode the answer their way. Runs in
// the calling actor.

#include <chrono>
#include <functional>
#include <memory>

#include <caf/duration.hpp>
#include <caf/expected.hpp>

#include "api/atoms.hpp"
#include "api/commands.hpp"
#include "api/messages.hpp"
#include "api/metrics.hpp"
#include "cluster/placement.hpp"
#include "gateway/find_file.hpp"

namespace confab::gateway {

// A message from `from`: its file attached (when it names one), then to the
// room's owner; `done` gets the ack (the message is durable) or the error.
// Observes the ack latency. Self: any actor that makes requests (the
// session is typed, the HTTP frontend not), so these are templates, for the
// two files that include this.
template <class Self>
void submit_send(Self* self, std::shared_ptr<const cluster::placement> place, api::caller from, api::send_command cmd,
                 caf::duration timeout, std::function<void(caf::expected<api::send_ack>)> done) {
  api::send_request r{std::move(from),    cmd.room,   std::move(cmd.body),    std::move(cmd.client_msg_id),
                      cmd.reply_to,       cmd.thread, std::move(cmd.file_id), "",
                      std::move(cmd.e2ee)};
  auto received = std::chrono::steady_clock::now();
  attach_file(self, *place, std::move(r), [=](caf::expected<api::send_request> r) {
    if (!r)
      return done(r.error());
    auto room = r->room;
    self->request(place->room(room), timeout, api::send_atom::value, std::move(*r))
        .then(
            [=](api::send_ack& ack) {
              api::node_metrics().send_ack.observe(std::chrono::steady_clock::now() - received);
              done(std::move(ack));
            },
            [=](caf::error& err) { done(std::move(err)); });
  });
}

// A history page for `user`, served by the node that holds the room.
template <class Self>
void submit_history(Self* self, const cluster::placement& place, const api::user_id& user,
                    const api::history_command& cmd, caf::duration timeout,
                    std::function<void(caf::expected<api::history_page>)> done) {
  api::history_request h{user, cmd.room, cmd.has_before, cmd.before, cmd.has_after, cmd.after, cmd.limit};
  self->request(place.room(cmd.room), timeout, api::history_atom::value, h)
      .then([done](api::history_page& page) { done(std::move(page)); },
            [done](caf::error& err) { done(std::move(err)); });
}

}  // namespace confab::gateway
