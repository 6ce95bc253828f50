#pragma once

// How records are encoded in the store, shared by the files that implement
// the stores of storage/. Internal to storage/.

#include <string>

#include <rocksdb/status.h>
#include <caf/error.hpp>

#include "api/errors.hpp"
#include "storage/files.hpp"
#include "storage/users.hpp"

namespace confab::storage {

// Every RocksDB status becomes an error code of PROTOCOL.md here.
[[nodiscard]] caf::error from_status(const rocksdb::Status& st);
// Big-endian, so that keys and values sort by number.
[[nodiscard]] std::string be64(api::seq_t v);
[[nodiscard]] std::string user_to_json(const stored_user& u);
[[nodiscard]] stored_user user_from_json(const std::string& text);
[[nodiscard]] std::string room_to_json(const api::room_info& r);
[[nodiscard]] api::room_info room_from_json(const std::string& text);
[[nodiscard]] std::string file_to_json(const file_record& f);
[[nodiscard]] file_record file_from_json(const std::string& text);
// The key of chunk `index` of a file.
[[nodiscard]] std::string chunk_key(const std::string& file, std::uint64_t index);

// Parsing our own records can only fail on corruption; report it as a value.
template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return api::fail(api::errc::unavailable, std::string("storage: corrupt record: ") + e.what());
  }
}

}  // namespace confab::storage
