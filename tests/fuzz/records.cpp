// libFuzzer target: the decoders of stored records (users, rooms, files:
// JSON; keys and counters: big-endian seqs), called directly on a value as
// RocksDB would hand it back, without a database.
//
// A corrupt record may only come out as an exception derived from
// std::exception, which storage turns into errc::unavailable (guarded() in
// storage/records.hpp); anything else, or undefined behaviour while decoding,
// is a bug. A record that decodes encodes again to one that decodes the same.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "actors/passwords.hpp"
#include "actors/replica_log.hpp"
#include "actors/room_change.hpp"
#include "storage/keys.hpp"
#include "storage/records.hpp"
#include "storage/search_index.hpp"
#include "tests/fuzz/check.hpp"
#include "wire/events.hpp"

namespace {

namespace api = confab::api;
namespace storage = confab::storage;
namespace keys = confab::storage::keys;
namespace passwords = confab::actors::passwords;

// Decodes as the store does: a value, or "corrupt".
template <class F>
auto decode(F&& f) -> std::optional<decltype(f())> {
  try {
    return f();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool same(const storage::stored_user& a, const storage::stored_user& b) {
  return a.info.id == b.info.id && a.info.username == b.info.username && a.info.display_name == b.info.display_name &&
         a.info.status_text == b.info.status_text && a.info.avatar_file_id == b.info.avatar_file_id &&
         a.password_hash == b.password_hash && a.created_at == b.created_at &&
         a.tokens_valid_after == b.tokens_valid_after && a.keep_jti == b.keep_jti && a.version == b.version;
}

bool same(const api::room_info& a, const api::room_info& b) {
  return a.id == b.id && a.name == b.name && a.topic == b.topic && a.visibility == b.visibility && a.kind == b.kind &&
         a.created_at == b.created_at && a.owner == b.owner;
}

bool same(const storage::file_record& a, const storage::file_record& b) {
  return a.id == b.id && a.name == b.name && a.size == b.size && a.content_type == b.content_type &&
         a.sha256 == b.sha256 && a.room == b.room && a.owner == b.owner && a.created_at == b.created_at &&
         a.chunks == b.chunks && a.width == b.width && a.height == b.height && a.thumbnail == b.thumbnail &&
         a.encrypted == b.encrypted;
}

template <class Record, class From, class To>
void round_trip(const std::string& text, From from, To to) {
  auto r = decode([&] { return from(text); });
  if (!r)
    return;
  auto again_text = to(*r);
  auto again = decode([&] { return from(again_text); });
  CHECK(again && same(*r, *again));
  CHECK(to(*again) == again_text);
}

// Keys and big-endian values: what the store reads back from a key or a
// counter (reads, usage, presence, dedupe) of any bytes.
void check_keys(std::string_view bytes) {
  auto s = keys::seq_of(bytes);
  if (bytes.size() < 8) {
    CHECK(s == 0);
  } else {
    CHECK(storage::be64(s) == bytes.substr(bytes.size() - 8));
  }
  CHECK(keys::seq_of(storage::be64(s)) == s);
  // Ids never contain '\0': a room id is the bytes up to the first one.
  api::room_id room{std::string(bytes.substr(0, bytes.find('\0')))};
  auto key = keys::message(room, s);
  auto prefix = keys::room_prefix(room);
  CHECK(key.size() == prefix.size() + 8 && key.starts_with(prefix) && keys::seq_of(key) == s);
  CHECK(prefix.find('\0') == room.value.size());
  // Keys of one room sort by seq, and after every shorter room id's.
  CHECK((keys::message(room, s) < keys::message(room, s + 1)) == (s != UINT64_MAX));
  auto pair = keys::pair(room.value, bytes);
  CHECK(pair.substr(0, pair.find('\0')) == room.value && pair.substr(room.value.size() + 1) == bytes);
  api::user_id user{room.value};
  auto d = keys::dedupe(user, room, bytes);
  CHECK(d == keys::pair(keys::pair(user.value, room.value), bytes));
}

// The password hash of a stored user: what parses has costs within bounds
// and parses to the same values once formatted again.
void check_password_hash(std::string_view text) {
  auto x = passwords::parse(text);
  if (!x)
    return;
  CHECK(x->m_kib <= 256 * 1024 && x->t >= 1 && x->t <= 16 && x->p >= 1 && x->p <= 4);
  auto again = passwords::parse(passwords::format(*x));
  CHECK(again && again->salt == x->salt && again->hash == x->hash && again->m_kib == x->m_kib && again->t == x->t &&
        again->p == x->p);
}

// An entry or the state of a replicated log: what decodes, encoded again,
// decodes to the same value (not always to the same bytes: CAF's varint
// lengths have more than one spelling).
void check_replica_records(std::string_view bytes) {
  namespace log = confab::actors::replica_log;
  if (auto e = log::decode_entry(bytes)) {
    auto again = log::decode_entry(log::encode(*e));
    CHECK(again && *again == *e);
  }
  if (auto s = log::decode_state(bytes)) {
    auto again = log::decode_state(log::encode_state(*s));
    CHECK(again && *again == *s);
  }
  if (auto c = confab::actors::decode_room_change(bytes)) {
    auto again = confab::actors::decode_room_change(confab::actors::encode(*c));
    CHECK(again && *again == *c);
  }
}

// A stored message as the room changes it (edit, delete, reaction, thread) and
// shows it: these run in the room actor, which catches nothing, so they
// answer every text with a value or an error, never an exception; a
// change's result is a message they read again.
void check_stored_message(const std::string& text) {
  namespace wire = confab::wire;
  auto edited = wire::edited_message(text, "ann", "new body", "", 1);
  auto deleted = wire::delete_message(text, "ann", true);
  auto added = wire::reacted_message(text, "ann", "+1", true);
  auto removed = wire::reacted_message(text, "ann", "+1", false);
  auto shown = wire::client_message(text);
  if (added && *added) {
    auto back = wire::reacted_message(**added, "ann", "+1", true);
    CHECK(back && !*back);  // added twice: no change
    (void)wire::client_message(**added);
  }
  if (deleted)
    CHECK(!wire::edited_message(deleted->text, "ann", "x", "", 2));
  // as a thread's root: a reply counted once, however often it is added
  (void)wire::thread_of(text);
  (void)wire::thread_replies(text);
  if (auto root = wire::thread_added(text, 7, "bob", 3)) {
    CHECK(wire::thread_replies(*root).back() == 7);
    auto again = wire::thread_added(*root, 7, "bob", 3);
    CHECK(again && *again == *root);
    CHECK(wire::thread_replies(wire::client_message(*root)).empty());
    (void)wire::thread_recounted(*root, {text, *root});
  }
  (void)edited;
  (void)removed;
  (void)shown;
}

// The search index: any text as a query (Xapian's parser, after folding)
// and as a stored message to index answers a value or an error.
void check_search(const std::string& text) {
  static auto index = [] {
    char dir[] = "/tmp/confab-fuzz-search-XXXXXX";
    CHECK(mkdtemp(dir) != nullptr);
    auto idx = storage::search_index::open(std::string(dir) + "/search");
    CHECK(static_cast<bool>(idx));
    (*idx)->queue(R"({"room":"r_1","seq":1,"ts":5,"body":"hello wörld"})");
    return std::move(*idx);
  }();
  std::vector<api::room_id> rooms{api::room_id{"r_1"}};
  (void)index->search(text, rooms, "", 5);
  (void)index->search("hello", rooms, text, 5);
  index->queue(text);
  (void)storage::search_index::fold(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  round_trip<storage::stored_user>(text, storage::user_from_json, storage::user_to_json);
  round_trip<api::room_info>(text, storage::room_from_json, storage::room_to_json);
  round_trip<storage::file_record>(text, storage::file_from_json, storage::file_to_json);
  check_keys(text);
  check_password_hash(text);
  check_replica_records(text);
  check_stored_message(text);
  check_search(text);
  return 0;
}
