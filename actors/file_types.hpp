#pragma once

// What type a file's bytes show (libmagic).

#include <string>

namespace confab::actors::files {

// The type the bytes show (libmagic), falling back to a declared harmless
// text type only where libmagic sees plain text.
[[nodiscard]] std::string sniff(const std::string& head, const std::string& declared);

}  // namespace confab::actors::files
