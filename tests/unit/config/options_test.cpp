#define CAF_SUITE options
#include <caf/test/unit_test.hpp>

#include <cstdint>

#include "config/options.hpp"

using namespace confab;

CAF_TEST(sizes parse with their suffixes and reject bad input) {
  std::uint64_t size = 0;
  CAF_CHECK(config::parse_size("10K", size) && size == 10240);
  CAF_CHECK(!config::parse_size("10X", size));
  CAF_CHECK(!config::parse_size("-1", size));
}
