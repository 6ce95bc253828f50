#include "storage/store.hpp"

namespace confab::storage {

caf::expected<std::shared_ptr<store>> store::open(const std::string& dir, durability mode, bool search) {
  auto db = database::open(dir, mode, search);
  if (!db)
    return db.error();
  return std::shared_ptr<store>(new store(std::move(*db)));
}

}  // namespace confab::storage
