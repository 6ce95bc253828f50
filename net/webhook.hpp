#pragma once

// The push webhook client: POSTs JSON bodies to one http:// URL from its own
// io_context thread, one connection per post, with a 10 s deadline.

#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "api/sinks.hpp"

namespace confab::net {

// Fails (as a value) when the URL is not http://host[:port][/path].
[[nodiscard]] caf::expected<std::shared_ptr<api::push_transport>> make_webhook(const std::string& url);

}  // namespace confab::net
