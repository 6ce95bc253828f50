#define CAF_SUITE search_index
#include <caf/test/unit_test.hpp>

#include <filesystem>

#include "api/errors.hpp"
#include "storage/search_index.hpp"
#include "tests/unit/helpers.hpp"

using namespace confab;

namespace {

std::string message(const std::string& room, api::seq_t seq, std::int64_t ts, const std::string& body,
                    bool deleted = false) {
  return R"({"room":")" + room + R"(","seq":)" + std::to_string(seq) + R"(,"ts":)" + std::to_string(ts) +
         (deleted ? R"(,"deleted":true})" : R"(,"body":")" + body + R"("})");
}

std::vector<api::seq_t> seqs(const caf::expected<std::vector<storage::search_hit>>& hits) {
  std::vector<api::seq_t> out;
  if (hits)
    for (auto& h : *hits)
      out.push_back(h.seq);
  return out;
}

using seq_list = std::vector<api::seq_t>;

}  // namespace

CAF_TEST(fold takes accents off and keeps everything else) {
  CAF_CHECK_EQUAL(storage::search_index::fold("Café crème à Paris"), "Cafe creme a Paris");
  CAF_CHECK_EQUAL(storage::search_index::fold("Καλημέρα"), "Καλημερα");
  CAF_CHECK_EQUAL(storage::search_index::fold("北京 Straße"), "北京 Straße");
  CAF_CHECK_EQUAL(storage::search_index::fold("\xff\xfe"), "\xff\xfe");  // not UTF-8: as it is
}

CAF_TEST(the newest text of each message is found; rooms filter and drop) {
  test::temp_dir dir;
  auto idx = test::value(storage::search_index::open(dir.path() + "/search"));
  CAF_CHECK(idx->needs_rebuild());  // new
  idx->queue(message("r_1", 1, 100, "hello world"));
  idx->queue(message("r_1", 2, 200, "hello again"));
  idx->queue(message("r_2", 1, 150, "hello there"));
  idx->queue(message("r_1", 1, 100, "goodbye world"));  // an edit
  idx->queue(message("r_1", 3, 300, "", true));         // deleted: nothing
  std::vector<api::room_id> both{api::room_id{"r_1"}, api::room_id{"r_2"}};
  CAF_CHECK_EQUAL(seqs(idx->search("hello", both, "", 10)), seq_list({2, 1}));
  CAF_CHECK_EQUAL(seqs(idx->search("hello", {api::room_id{"r_1"}}, "", 10)), seq_list({2}));
  CAF_CHECK_EQUAL(seqs(idx->search("world", both, "", 10)), seq_list({1}));
  // the last word as a prefix: r_1 seq 2, then r_2 seq 1 (older)
  CAF_CHECK_EQUAL(seqs(idx->search("hel", both, "", 10)), seq_list({2, 1}));
  // a cursor: below the first hit's key
  auto first = idx->search("hello", both, "", 1);
  CAF_REQUIRE(first && first->size() == 1);
  CAF_CHECK_EQUAL(seqs(idx->search("hello", both, first->front().key, 10)), seq_list({1}));
  CAF_CHECK(!idx->search("?!", both, "", 10));
  CAF_CHECK_EQUAL(api::describe(idx->search("", both, "", 10).error()).code, api::errc::invalid_request);
  idx->queue_drop(api::room_id{"r_1"});
  CAF_CHECK_EQUAL(seqs(idx->search("hello", both, "", 10)), seq_list({1}));
  CAF_CHECK_EQUAL(test::value(idx->size()), 1u);
}

CAF_TEST(a clean close keeps the index; an unclean one asks for a rebuild) {
  test::temp_dir dir;
  auto path = dir.path() + "/search";
  {
    auto idx = test::value(storage::search_index::open(path));
    idx->queue(message("r_1", 1, 100, "kept"));
  }
  {
    auto idx = test::value(storage::search_index::open(path));
    CAF_CHECK(!idx->needs_rebuild());
    CAF_CHECK_EQUAL(seqs(idx->search("kept", {api::room_id{"r_1"}}, "", 10)), seq_list({1}));
    // As a process killed now leaves it: the marker stays.
    std::filesystem::copy(path, dir.path() + "/crashed", std::filesystem::copy_options::recursive);
  }
  auto idx = test::value(storage::search_index::open(dir.path() + "/crashed"));
  CAF_CHECK(idx->needs_rebuild());
  CAF_CHECK_EQUAL(test::value(idx->size()), 0u);  // from scratch
  auto err = idx->rebuild([](const std::function<void(std::string_view)>& index) -> caf::error {
    index(message("r_1", 1, 100, "kept"));
    index(message("r_1", 2, 200, "kept too"));
    return caf::none;
  });
  CAF_CHECK(!err);
  CAF_CHECK(!idx->needs_rebuild());
  CAF_CHECK_EQUAL(seqs(idx->search("kept", {api::room_id{"r_1"}}, "", 10)), seq_list({2, 1}));
}
