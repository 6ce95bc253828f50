#pragma once

// How records are encoded in the store, shared by the files that implement
// storage::store (store.cpp, handoff.cpp). Internal to storage/.

#include <string>

#include <rocksdb/status.h>
#include <caf/error.hpp>

#include "api/errors.hpp"
#include "storage/store.hpp"

namespace confab::storage {

// Every RocksDB status becomes an error code of PROTOCOL.md here.
[[nodiscard]] caf::error from_status(const rocksdb::Status& st);
// Big-endian, so that keys and values sort by number.
[[nodiscard]] std::string be64(api::seq_t v);
[[nodiscard]] std::string user_to_json(const stored_user& u);
[[nodiscard]] stored_user user_from_json(const std::string& text);
[[nodiscard]] std::string room_to_json(const api::room_info& r);
[[nodiscard]] api::room_info room_from_json(const std::string& text);

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
