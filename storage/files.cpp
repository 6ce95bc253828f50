#include "storage/files.hpp"

#include <algorithm>
#include <charconv>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <nlohmann/json.hpp>

#include "api/errors.hpp"
#include "api/metrics.hpp"
#include "storage/keys.hpp"
#include "storage/records.hpp"

namespace confab::storage {

using api::errc;
using nlohmann::json;

caf::error file_store::put_chunk(const std::string& file, std::uint64_t index, std::string_view bytes) {
  // Chunks go to the WAL only: the file's record, written after the last
  // chunk, is fsynced and so covers them (one WAL, written in order).
  return from_status(
      d_->put(d_->chunks_, chunk_key(file, index), rocksdb::Slice(bytes.data(), bytes.size()), database::flush::wal));
}

caf::expected<std::string> file_store::chunk(const std::string& file, std::uint64_t index) const {
  return d_->get(d_->chunks_, chunk_key(file, index));
}

caf::error file_store::drop_chunks(const std::string& file, std::uint64_t count) {
  return from_status(
      d_->db_->DeleteRange(rocksdb::WriteOptions{}, d_->chunks_, chunk_key(file, 0), chunk_key(file, count)));
}

caf::error file_store::put_file(const file_record& f, bool is_new, std::uint64_t quota) {
  rocksdb::WriteBatch batch;
  batch.Put(d_->files_, f.id, file_to_json(f));
  std::unique_lock<std::mutex> lock(d_->usage_mutex_, std::defer_lock);
  if (is_new) {
    lock.lock();
    auto used = usage(f.owner);
    if (!used)
      return used.error();
    if (*used + f.size > quota)
      return api::fail(errc::quota_exceeded, "file storage quota exceeded");
    batch.Put(d_->usage_, f.owner.value, be64(*used + f.size));
  }
  return from_status(d_->write(batch));
}

caf::expected<file_record> file_store::file(const std::string& id) const {
  auto text = d_->get(d_->files_, id);
  if (!text)
    return text.error();
  return guarded([&]() -> caf::expected<file_record> { return file_from_json(*text); });
}

caf::expected<std::uint64_t> file_store::usage(const api::user_id& user) const {
  auto v = d_->get(d_->usage_, user.value);
  if (!v) {
    if (api::describe(v.error()).code == errc::not_found)
      return std::uint64_t{0};
    return v.error();
  }
  return keys::seq_of(*v);
}

caf::error file_store::put_thumbnail(const file_record& f, std::string_view jpeg) {
  rocksdb::WriteBatch batch;
  batch.Put(d_->thumbs_, f.id, rocksdb::Slice(jpeg.data(), jpeg.size()));
  batch.Put(d_->files_, f.id, file_to_json(f));
  return from_status(d_->write(batch));
}

caf::error file_store::drop_file(const std::string& id, bool counted) {
  auto f = file(id);
  if (!f)
    return api::describe(f.error()).code == errc::not_found ? caf::error{} : f.error();
  rocksdb::WriteBatch batch;
  batch.Delete(d_->files_, id);
  batch.Delete(d_->thumbs_, id);
  batch.DeleteRange(d_->chunks_, chunk_key(id, 0), chunk_key(id, f->chunks + 1));
  std::unique_lock<std::mutex> lock(d_->usage_mutex_, std::defer_lock);
  if (counted) {
    lock.lock();
    auto used = usage(f->owner);
    if (!used)
      return used.error();
    batch.Put(d_->usage_, f->owner.value, be64(*used > f->size ? *used - f->size : 0));
  }
  return from_status(d_->write(batch));
}

caf::expected<std::string> file_store::thumbnail(const std::string& id) const {
  return d_->get(d_->thumbs_, id);
}

}  // namespace confab::storage
