#pragma once

// What a file is called and shown as: its name made safe, and the
// Content-Disposition it is served with. Pure functions.

#include <string>

namespace confab::gateway {

// Path separators, control characters and quotes become '_'; at most 255
// bytes, cut on a UTF-8 boundary. Empty when nothing usable is left.
[[nodiscard]] std::string sanitize_name(const std::string& name);

// inline or attachment, with filename and filename*.
[[nodiscard]] std::string disposition(const std::string& content_type, const std::string& name);

}  // namespace confab::gateway
