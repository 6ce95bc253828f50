#pragma once

// Plain helpers for files: names, types, dispositions, ranges, and the
// source that streams a stored file's bytes to net/.

#include <memory>
#include <optional>
#include <string>

#include "actors/api/sinks.hpp"
#include "storage/store.hpp"

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

// One byte range of a file of `size` bytes, from a Range header.
struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};
enum class range_kind { whole, partial, unsatisfiable };
[[nodiscard]] range_kind parse_range(const std::string& header, std::uint64_t size, byte_range& out);

// Reads the file's chunks for bytes [first, last] one at a time.
[[nodiscard]] std::shared_ptr<api::body_source> chunk_source(std::shared_ptr<storage::store> db, api::file_info file,
                                                             std::uint64_t first, std::uint64_t last);

}  // namespace confab::actors::files
