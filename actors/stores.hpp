#pragma once

// What each actor is given of the node's storage: the stores of the
// concerns it reads or writes (storage/), never the whole store and never
// through node_context. A store is a cheap handle over the node's one
// database, so these are passed by value at spawn. apps/node.cpp makes them
// once from the opened storage::store (of()); tests do the same.
//
// | actor                          | stores                                  |
// | ------------------------------ | --------------------------------------- |
// | room manager, room, replica    | room_stores                             |
// | reader                         | reader_stores                           |
// | account, presence (+ manager)  | users                                   |
// | session                        | users (names to watch)                  |
// | HTTP and admin frontends       | none: they ask the readers              |
// | upload, thumbnailer            | files                                   |
// | syncer                         | the database (write count, WAL sync)    |

#include <memory>

#include "storage/database.hpp"
#include "storage/files.hpp"
#include "storage/handoff.hpp"
#include "storage/room_log.hpp"
#include "storage/rooms.hpp"
#include "storage/store.hpp"
#include "storage/users.hpp"

namespace confab::actors {

// The room manager and the rooms and log copies it spawns: rooms and
// members, each room's log, moving rooms, usernames (invites by name), and
// the database's write count and WAL sync (group commit).
struct room_stores {
  storage::room_store rooms;
  storage::log_store log;
  storage::handoff_store handoff;
  storage::user_store users;
  std::shared_ptr<storage::database> db;

  [[nodiscard]] static room_stores of(const storage::store& s) {
    return {s.rooms(), s.log(), s.handoff(), s.users(), s.shared_database()};
  }
};

// The reader pool: a user's rooms, history pages, members' profiles, files
// and their copies, and the start of an upload (the owner's quota).
struct reader_stores {
  storage::room_store rooms;
  storage::log_store log;
  storage::user_store users;
  storage::file_store files;

  [[nodiscard]] static reader_stores of(const storage::store& s) { return {s.rooms(), s.log(), s.users(), s.files()}; }
};

}  // namespace confab::actors
