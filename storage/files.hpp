#pragma once

// Files: records, chunks of bytes, thumbnails, and each user's usage against
// the quota. Column families files, chunks, thumbs, usage.
//
// Thread-safe; every rocksdb::Status becomes a caf::error here.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "api/messages.hpp"
#include "storage/database.hpp"

namespace confab::storage {

using file_record = api::file_info;

class file_store {
 public:
  file_store() = default;
  explicit file_store(std::shared_ptr<database> d) : d_(std::move(d)) {}

  // files: chunks are written as they arrive, the record (and the owner's
  // usage) once the upload is complete
  [[nodiscard]] caf::error put_chunk(const std::string& file, std::uint64_t index, std::string_view bytes);
  [[nodiscard]] caf::expected<std::string> chunk(const std::string& file, std::uint64_t index) const;
  [[nodiscard]] caf::error drop_chunks(const std::string& file, std::uint64_t count);
  // A file whose message was deleted: its record, bytes and thumbnail go,
  // and its size leaves the owner's usage where it was counted (`counted`:
  // this node is the file's home). A file not here is no error.
  [[nodiscard]] caf::error drop_file(const std::string& id, bool counted);
  // A new file is refused (quota_exceeded) when it would take its owner's
  // usage over `quota`; checked and added in one step.
  [[nodiscard]] caf::error put_file(const file_record& file, bool is_new, std::uint64_t quota = UINT64_MAX);
  [[nodiscard]] caf::expected<file_record> file(const std::string& id) const;
  [[nodiscard]] caf::expected<std::uint64_t> usage(const api::user_id& user) const;
  [[nodiscard]] caf::error put_thumbnail(const file_record& file, std::string_view jpeg);
  [[nodiscard]] caf::expected<std::string> thumbnail(const std::string& id) const;

 private:
  std::shared_ptr<database> d_;
};

}  // namespace confab::storage
