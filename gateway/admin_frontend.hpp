#pragma once

// The admin frontend (PROTOCOL.md section 4): every call needs the node's
// admin token as a bearer token and answers for the whole cluster from any
// node. Its own actor, so that the admin API's fan-outs never queue behind
// client calls.

#include <caf/event_based_actor.hpp>

#include "api/interfaces.hpp"
#include "api/probe.hpp"
#include "gateway/context.hpp"
#include "gateway/http_exchange.hpp"

namespace confab::gateway {

using admin_self = api::probed_base<api::http_service::base>;

// The admin API (every call under /admin/api/, with the admin token), the
// console's files (the rest of /admin/) and GET /metrics, as the HTTP
// frontend hands them over. One per node, linked to the HTTP frontend.
api::http_service::behavior_type admin_frontend(admin_self* self, context_ptr ctx);

}  // namespace confab::gateway
