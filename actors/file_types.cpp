#include "actors/file_types.hpp"

#include <magic.h>

#include <algorithm>
#include <cstdio>

namespace confab::actors::files {

std::string sniff(const std::string& head, const std::string& declared) {
  std::string found = "application/octet-stream";
  if (magic_t m = magic_open(MAGIC_MIME_TYPE)) {
    if (magic_load(m, nullptr) == 0)
      if (const char* r = magic_buffer(m, head.data(), head.size()))
        found = r;
    magic_close(m);
  }
  if (found != "text/plain")
    return found;
  auto base = declared.substr(0, declared.find(';'));
  static const char* harmless_text[] = {"text/csv", "text/markdown", "text/x-log", "application/json"};
  for (auto* t : harmless_text)
    if (base == t)
      return base;
  return found;
}

}  // namespace confab::actors::files
