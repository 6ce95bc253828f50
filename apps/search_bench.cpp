// confab-search-bench: the costs of the full-text index (storage/
// search_index.hpp) in this process, without a server: indexing N messages
// of 100-byte bodies in R rooms (CPU per message, the worker thread
// included), the index's size on disk, a rebuild's time, and the latency of
// searches by a user who is in M of the rooms (p50, p99). docs/PERFORMANCE.md
// says how it was run. Prints one JSON object.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "storage/search_index.hpp"

namespace po = boost::program_options;
using confab::storage::search_index;
using nlohmann::json;

namespace {

double cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::uint64_t dir_bytes(const std::string& dir) {
  std::uint64_t n = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      n += e.file_size();
  return n;
}

// A vocabulary of made-up words with a Zipf-like use: a few common, many rare.
struct words {
  std::vector<std::string> list;
  std::discrete_distribution<std::size_t> pick;
  explicit words(std::mt19937_64& rng, std::size_t n) {
    std::uniform_int_distribution<int> len(2, 9), letter(0, 25);
    std::vector<double> weights;
    for (std::size_t i = 0; i < n; ++i) {
      std::string w;
      for (int k = len(rng); k > 0; --k)
        w.push_back(static_cast<char>('a' + letter(rng)));
      list.push_back(w);
      weights.push_back(1.0 / static_cast<double>(i + 1));
    }
    pick = std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
  }
  const std::string& operator()(std::mt19937_64& rng) { return list[pick(rng)]; }
};

std::string room_id(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "r_%016zx", i);
  return buf;
}

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  return xs[std::min(xs.size() - 1, static_cast<std::size_t>(p * static_cast<double>(xs.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t messages = 0, rooms = 0, member_of = 0, queries = 0;
  std::string dir;
  po::options_description opts("confab-search-bench");
  opts.add_options()("help", "this text")("messages", po::value(&messages)->default_value(1000000),
                                          "messages to index")("rooms", po::value(&rooms)->default_value(1000),
                                                               "rooms they are spread over")(
      "member-of", po::value(&member_of)->default_value(20), "rooms of the searching user")(
      "queries", po::value(&queries)->default_value(2000), "searches timed")(
      "dir", po::value(&dir)->default_value("/tmp/confab-search-bench"), "index directory (wiped)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  if (vm.count("help") || rooms == 0 || messages == 0 || member_of == 0 || member_of > rooms) {
    std::printf("%s\n",
                [&] {
                  std::ostringstream s;
                  s << opts;
                  return s.str();
                }()
                    .c_str());
    return vm.count("help") ? 0 : 2;
  }
  std::filesystem::remove_all(dir);
  std::mt19937_64 rng(42);
  words vocab(rng, 20000);
  auto body = [&] {
    std::string b;
    while (b.size() < 100)
      b += vocab(rng) + " ";
    b.pop_back();
    return b;
  };
  json out{{"messages", messages}, {"rooms", rooms}, {"body_bytes", 100}};

  std::vector<std::string> texts;
  texts.reserve(messages);
  std::vector<std::uint64_t> seq(rooms, 0);
  for (std::size_t i = 0; i < messages; ++i) {
    auto r = i % rooms;
    json m{{"room", room_id(r)},
           {"seq", ++seq[r]},
           {"msg_id", "m_0123456789abcdef"},
           {"from", "user42"},
           {"ts", 1'700'000'000'000 + i},
           {"body", body()},
           {"client_msg_id", "c-" + std::to_string(i)}};
    texts.push_back(m.dump());
  }
  {
    auto idx = search_index::open(dir);
    if (!idx) {
      std::fprintf(stderr, "cannot open the index in %s\n", dir.c_str());
      return 1;
    }
    // Indexing as the node does it: queued in write order, the worker
    // thread indexes in batches; size() waits until all are indexed.
    auto c0 = cpu_s(), t0 = now_s();
    for (auto& t : texts)
      (*idx)->queue(t);
    auto docs = (*idx)->size();
    auto c1 = cpu_s(), t1 = now_s();
    out["index_cpu_us_per_message"] = (c1 - c0) * 1e6 / static_cast<double>(messages);
    out["index_wall_s"] = t1 - t0;
    out["documents"] = docs ? *docs : 0;
  }  // closed: committed
  out["index_bytes"] = dir_bytes(dir);
  out["index_bytes_per_message"] = static_cast<double>(dir_bytes(dir)) / static_cast<double>(messages);
  {
    // A rebuild from scratch (what a node does after a crash).
    std::filesystem::remove(dir + "/iamglass");
    auto idx = search_index::open(dir);
    auto t0 = now_s();
    auto err = (*idx)->rebuild([&](const std::function<void(std::string_view)>& index) -> caf::error {
      for (auto& t : texts)
        index(t);
      return caf::none;
    });
    out["rebuild_s"] = now_s() - t0;
    if (err)
      return 1;
  }
  auto idx = search_index::open(dir);
  std::vector<confab::api::room_id> mine;
  std::vector<std::size_t> all(rooms);
  for (std::size_t i = 0; i < rooms; ++i)
    all[i] = i;
  std::shuffle(all.begin(), all.end(), rng);
  for (std::size_t i = 0; i < member_of; ++i)
    mine.push_back(confab::api::room_id{room_id(all[i])});
  // Queries: one or two words, a prefix of one, a phrase of two.
  std::vector<double> lat;
  std::size_t hits = 0;
  for (std::size_t i = 0; i < queries; ++i) {
    std::string q;
    switch (i % 4) {
      case 0:
        q = vocab(rng);
        break;
      case 1:
        q = vocab(rng) + " " + vocab(rng);
        break;
      case 2:
        q = vocab(rng).substr(0, 3);
        break;
      default:
        q = "\"" + vocab(rng) + " " + vocab(rng) + "\"";
    }
    auto t0 = now_s();
    auto r = (*idx)->search(q, mine, "", 21);
    lat.push_back((now_s() - t0) * 1e3);
    if (r)
      hits += r->size();
  }
  out["member_of"] = member_of;
  out["queries"] = queries;
  out["hits_per_query"] = static_cast<double>(hits) / static_cast<double>(queries);
  out["search_ms_p50"] = percentile(lat, 0.5);
  out["search_ms_p99"] = percentile(lat, 0.99);
  std::printf("%s\n", out.dump(2).c_str());
  std::filesystem::remove_all(dir);
  return 0;
}
