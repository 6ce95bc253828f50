#pragma once

// The admin API (PROTOCOL.md section 4) on the HTTP frontend: every call needs
// the node's admin token as a bearer token and answers for the whole cluster
// from any node. Runs inside the HTTP frontend actor.

#include <caf/event_based_actor.hpp>

#include "actors/context.hpp"
#include "actors/http_exchange.hpp"

namespace confab::actors {

// Answers a call whose path starts with admin/: the console's files, or an
// admin API call.
void admin_route(caf::event_based_actor* self, const context_ptr& ctx, const exchange_ptr& ex);
// GET /metrics: the Prometheus text format.
void metrics_page(const context_ptr& ctx, const exchange& ex);

}  // namespace confab::actors
