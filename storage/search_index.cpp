#include "storage/search_index.hpp"

#include <glib.h>
#include <sys/resource.h>
#include <unistd.h>
#include <xapian.h>

#include <fcntl.h>

#include <cerrno>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "api/errors.hpp"

namespace confab::storage {

using api::errc;
using nlohmann::json;

namespace {

constexpr Xapian::valueno key_slot = 0;  // the sort key: newest first
constexpr std::uint64_t commit_every_docs = 10000;
// Jobs the worker indexes at a time: how long it holds the index (at its
// low priority) before a search may take it.
constexpr std::size_t max_batch = 256;
// Jobs waiting at most (about 300 MB of 300-byte messages): past it a job is
// dropped and the index rebuilt at the next start (docs/OPERATIONS.md).
constexpr std::size_t max_queued = 1'000'000;

// The marker of an index that may be behind: created and fsynced (file and
// directory) before the index is trusted to be written to.
bool mark_dirty(const std::string& dir) {
  auto path = dir + "/dirty";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0)
    return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d >= 0) {
    ok = ::fsync(d) == 0 && ok;
    ::close(d);
  }
  return ok;
}
constexpr std::int64_t commit_every_ms = 2000;
// The most terms the last word's prefix expands to (the most frequent).
constexpr Xapian::termcount max_prefix_terms = 64;

// Unique per message; and one per room, to filter by and to drop a room.
std::string id_term(std::string_view room, api::seq_t seq) {
  std::string out{"Q"};
  out.append(room).append(":").append(std::to_string(seq));
  return out;
}

std::string room_term(std::string_view room) {
  std::string out{"XR"};
  out.append(room);
  return out;
}

std::string hex16(std::uint64_t x) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
  return buf;
}

// Time, then seq, then room: unique, and in the order of "newest first"
// when sorted descending.
std::string sort_key(std::int64_t ts, std::string_view room, api::seq_t seq) {
  return hex16(static_cast<std::uint64_t>(std::max<std::int64_t>(0, ts))) + hex16(seq) + std::string(room);
}

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

caf::error failed(const Xapian::Error& e) {
  return api::fail(errc::unavailable, "search index: " + e.get_description());
}

// What a stored message has to be found by: its body and its file's name.
std::string text_of(const json& m) {
  std::string out;
  if (auto body = m.find("body"); body != m.end() && body->is_string())
    out = body->get<std::string>();
  if (auto file = m.find("file"); file != m.end() && file->is_object())
    if (auto name = file->find("name"); name != file->end() && name->is_string())
      out += "\n" + name->get<std::string>();
  return out;
}

}  // namespace

std::string search_index::fold(std::string_view utf8) {
  gchar* nfd = g_utf8_normalize(utf8.data(), static_cast<gssize>(utf8.size()), G_NORMALIZE_NFD);
  if (nfd == nullptr)
    return std::string(utf8);  // not UTF-8: as it is
  std::string out;
  out.reserve(utf8.size());
  for (const gchar* p = nfd; *p != '\0'; p = g_utf8_next_char(p)) {
    auto c = g_utf8_get_char(p);
    if (g_unichar_type(c) == G_UNICODE_NON_SPACING_MARK)
      continue;
    char buf[6];
    out.append(buf, static_cast<std::size_t>(g_unichar_to_utf8(c, buf)));
  }
  g_free(nfd);
  return out;
}

bool search_index::mark_stale(const std::string& dir) {
  return !std::filesystem::exists(dir) || mark_dirty(dir);
}

caf::expected<std::unique_ptr<search_index>> search_index::open(const std::string& dir) {
  std::unique_ptr<search_index> s{new search_index};
  s->dir_ = dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return api::fail(errc::unavailable, "cannot create " + dir + ": " + ec.message());
  // New, or not closed cleanly (its last batches may be lost): from scratch.
  s->needs_rebuild_ = std::filesystem::exists(dir + "/dirty") || !std::filesystem::exists(dir + "/iamglass");
  try {
    s->db_ = std::make_unique<Xapian::WritableDatabase>(
        dir, s->needs_rebuild_ ? Xapian::DB_CREATE_OR_OVERWRITE : Xapian::DB_CREATE_OR_OPEN);
  } catch (const Xapian::Error& e) {
    return failed(e);
  }
  if (!mark_dirty(dir))
    return api::fail(errc::unavailable, "cannot write " + dir + "/dirty");
  s->committed_at_ = steady_ms();
  s->worker_ = std::thread([p = s.get()] { p->work(); });
  return s;
}

search_index::~search_index() {
  if (!db_)
    return;
  {
    std::lock_guard<std::mutex> lock{queue_};
    stop_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable())
    worker_.join();
  std::lock_guard<std::mutex> lock{work_};
  try {
    if (auto err = drain(); err || lost_ || overflowed_)
      return;  // stays dirty: rebuilt at the next start
    db_->commit();
    db_->close();
    std::error_code ec;
    std::filesystem::remove(dir_ + "/dirty", ec);
  } catch (const Xapian::Error& e) {
    spdlog::warn("search index not closed cleanly ({}): it is rebuilt at the next start", e.get_description());
  }
}

caf::error search_index::rebuild(const std::function<caf::error(const std::function<void(std::string_view)>&)>& each) {
  std::lock_guard<std::mutex> lock{work_};
  try {
    std::uint64_t n = 0;
    auto err = each([&](std::string_view text) {
      index(text);
      if (++n % commit_every_docs == 0)
        db_->commit();
    });
    if (err) {
      lost_ = true;
      return err;
    }
    db_->commit();
  } catch (const Xapian::Error& e) {
    lost_ = true;
    return failed(e);
  }
  needs_rebuild_ = false;
  return caf::none;
}

void search_index::queue(std::string message_json) {
  std::lock_guard<std::mutex> lock{queue_};
  if (jobs_.size() >= max_queued) {
    if (!overflowed_)
      spdlog::error("search index: {} messages wait to be indexed; dropping, rebuilt at the next start", max_queued);
    overflowed_ = true;
    return;
  }
  jobs_.push_back({std::move(message_json), false});
  if (jobs_.size() == 1)
    wake_.notify_one();
}

void search_index::queue_drop(const api::room_id& room) {
  std::lock_guard<std::mutex> lock{queue_};
  jobs_.push_back({room.value, true});
  if (jobs_.size() == 1)
    wake_.notify_one();
}

void search_index::work() {
  // The lowest priority a thread may take without privilege: indexing takes
  // what CPU delivery leaves (docs/PERFORMANCE.md); a search indexes the
  // rest of the queue itself, at its own priority.
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19) != 0)
    spdlog::warn("search index: could not lower the indexer's priority (errno {})", errno);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock{queue_};
      wake_.wait_for(lock, std::chrono::milliseconds(commit_every_ms), [this] { return stop_ || !jobs_.empty(); });
      if (stop_)
        return;
      // A moment more gathers a batch: one wake-up for many messages.
      if (jobs_.size() < max_batch)
        wake_.wait_for(lock, std::chrono::milliseconds(5), [this] { return stop_; });
      if (stop_)
        return;
    }
    std::lock_guard<std::mutex> lock{work_};
    auto err = drain(max_batch);
    try {
      if (!err && uncommitted_ > 0 &&
          (uncommitted_ >= commit_every_docs || steady_ms() - committed_at_ >= commit_every_ms)) {
        db_->commit();
        uncommitted_ = 0;
        committed_at_ = steady_ms();
      }
    } catch (const Xapian::Error& e) {
      err = failed(e);
    }
    if (err)
      spdlog::error("search index: {}", api::describe(err).message);
  }
}

caf::error search_index::drain(std::size_t most) {
  std::vector<job> jobs;
  {
    std::lock_guard<std::mutex> lock{queue_};
    if (jobs_.size() <= most) {
      jobs.swap(jobs_);
    } else {
      // The oldest first; what is left wakes the worker again.
      jobs.assign(std::make_move_iterator(jobs_.begin()), std::make_move_iterator(jobs_.begin() + most));
      jobs_.erase(jobs_.begin(), jobs_.begin() + most);
    }
  }
  // Each job on its own: one that fails is lost (the index is rebuilt at the
  // next start), the others are indexed.
  caf::error err;
  for (auto& j : jobs) {
    try {
      if (j.drop)
        db_->delete_document(room_term(j.text));
      else
        index(j.text);
      ++uncommitted_;
    } catch (const Xapian::Error& e) {
      lost_ = true;
      err = failed(e);
    }
  }
  return err;
}

void search_index::index(std::string_view message_json) {
  auto m = json::parse(message_json, nullptr, false);
  if (!m.is_object())
    return;
  auto room = m.find("room");
  auto seq = m.find("seq");
  if (room == m.end() || !room->is_string() || seq == m.end() || !seq->is_number_unsigned())
    return;
  const auto& r = room->get_ref<const std::string&>();
  auto s = seq->get<api::seq_t>();
  auto id = id_term(r, s);
  auto deleted = m.find("deleted");
  auto text = text_of(m);
  if (text.empty() || (deleted != m.end() && deleted->is_boolean() && deleted->get<bool>())) {
    db_->delete_document(id);
    return;
  }
  auto ts = m.find("ts");
  Xapian::Document doc;
  Xapian::TermGenerator words;
  words.set_flags(Xapian::TermGenerator::FLAG_CJK_NGRAM);
  words.set_document(doc);
  words.index_text(fold(text));
  doc.add_boolean_term(id);
  doc.add_boolean_term(room_term(r));
  doc.add_value(key_slot, sort_key(ts != m.end() && ts->is_number_integer() ? ts->get<std::int64_t>() : 0, r, s));
  doc.set_data(r + "\n" + std::to_string(s));
  db_->replace_document(id, doc);
}

caf::expected<std::vector<search_hit>> search_index::search(const std::string& query,
                                                            const std::vector<api::room_id>& rooms,
                                                            const std::string& before, std::uint32_t limit) {
  std::lock_guard<std::mutex> lock{work_};
  if (auto err = drain())
    return err;
  std::vector<search_hit> out;
  try {
    Xapian::QueryParser parser;
    parser.set_database(*db_);
    parser.set_default_op(Xapian::Query::OP_AND);
    parser.set_max_expansion(max_prefix_terms, Xapian::Query::WILDCARD_LIMIT_MOST_FREQUENT,
                             Xapian::QueryParser::FLAG_PARTIAL);
    auto words = parser.parse_query(fold(query), Xapian::QueryParser::FLAG_PHRASE | Xapian::QueryParser::FLAG_PARTIAL |
                                                     Xapian::QueryParser::FLAG_CJK_NGRAM);
    if (words.empty())
      return api::fail(errc::invalid_request, "q has no word to search for");
    if (rooms.empty())
      return out;
    std::vector<Xapian::Query> in;
    for (auto& r : rooms)
      in.emplace_back(room_term(r.value));
    Xapian::Query q(Xapian::Query::OP_FILTER, words, Xapian::Query(Xapian::Query::OP_OR, in.begin(), in.end()));
    if (!before.empty())
      q = Xapian::Query(Xapian::Query::OP_FILTER, q, Xapian::Query(Xapian::Query::OP_VALUE_LE, key_slot, before));
    Xapian::Enquire enquire(*db_);
    enquire.set_query(q);
    enquire.set_weighting_scheme(Xapian::BoolWeight());
    enquire.set_sort_by_value(key_slot, true);
    auto found = enquire.get_mset(0, limit + 1);
    for (auto it = found.begin(); it != found.end() && out.size() < limit; ++it) {
      auto doc = it.get_document();
      auto key = doc.get_value(key_slot);
      if (key == before)
        continue;
      auto data = doc.get_data();
      auto nl = data.find('\n');
      if (nl == std::string::npos)
        continue;
      api::seq_t seq = 0;
      auto digits = std::string_view(data).substr(nl + 1);
      if (std::from_chars(digits.data(), digits.data() + digits.size(), seq).ec != std::errc{})
        continue;
      out.push_back({api::room_id{data.substr(0, nl)}, seq, std::move(key)});
    }
  } catch (const Xapian::QueryParserError& e) {
    return api::fail(errc::invalid_request, "q: " + e.get_msg());
  } catch (const Xapian::Error& e) {
    return failed(e);
  }
  return out;
}

caf::expected<std::uint64_t> search_index::size() {
  std::lock_guard<std::mutex> lock{work_};
  if (auto err = drain())
    return err;
  try {
    return static_cast<std::uint64_t>(db_->get_doccount());
  } catch (const Xapian::Error& e) {
    return failed(e);
  }
}

}  // namespace confab::storage
