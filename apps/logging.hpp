#pragma once

// confabd's logger: spdlog, asynchronous, on stderr; human lines or one JSON
// object a line (--log-format json).

#include <string>

namespace confab::apps {

// Installs the default logger. `format` is "text" or "json".
void start_logging(const std::string& level, const std::string& format);
// Writes out what is queued and stops the logging thread.
void stop_logging();

}  // namespace confab::apps
