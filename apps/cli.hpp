#pragma once

// confabd's command line: flags first, then CONFAB_* environment, then the
// --config file; the first source that sets a flag wins.

#include <string>
#include <variant>

#include "config/options.hpp"

namespace confab::apps {

// What parse() gives back: options, a request for help text, or one error line.
struct help_text {
  std::string text;
};
struct parse_error {
  std::string message;
};
using parse_result = std::variant<config::options, help_text, parse_error>;

[[nodiscard]] parse_result parse(int argc, const char* const* argv);

}  // namespace confab::apps
