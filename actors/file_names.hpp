#pragma once

// What a file is called and shown as: its name made safe, the type its bytes
// show, and the Content-Disposition it is served with. Pure functions.

#include <string>

namespace confab::actors::files {

// Path separators, control characters and quotes become '_'; at most 255
// bytes, cut on a UTF-8 boundary. Empty when nothing usable is left.
[[nodiscard]] std::string sanitize_name(const std::string& name);

// The type the bytes show (libmagic), falling back to a declared harmless
// text type only where libmagic sees plain text.
[[nodiscard]] std::string sniff(const std::string& head, const std::string& declared);

[[nodiscard]] bool is_image(const std::string& content_type);
// inline or attachment, with filename and filename*.
[[nodiscard]] std::string disposition(const std::string& content_type, const std::string& name);

}  // namespace confab::actors::files
