#define CAF_SUITE cli
#include <caf/test/unit_test.hpp>

#include <variant>

#include "apps/cli.hpp"

using namespace confab;

CAF_TEST(options parse flags sizes and reject bad input) {
  const char* good[] = {"confabd", "--http-port", "0", "--max-file-size", "2M", "--rate-burst", "5"};
  auto r = apps::parse(7, good);
  CAF_REQUIRE(std::holds_alternative<config::options>(r));
  auto& o = std::get<config::options>(r);
  CAF_CHECK_EQUAL(o.http_port, 0);
  CAF_CHECK_EQUAL(o.lim.max_file_size, 2u * 1024 * 1024);
  CAF_CHECK_EQUAL(o.lim.rate_burst, 5.0);
  CAF_CHECK_EQUAL(o.secret_file, "./data/secret");
  const char* unknown[] = {"confabd", "--no-such-flag"};
  CAF_CHECK(std::holds_alternative<apps::parse_error>(apps::parse(2, unknown)));
  const char* bad_port[] = {"confabd", "--http-port", "99999"};
  CAF_CHECK(std::holds_alternative<apps::parse_error>(apps::parse(3, bad_port)));
  const char* cluster[] = {"confabd", "--seeds", "127.0.0.1:7000"};
  CAF_CHECK(std::holds_alternative<apps::parse_error>(apps::parse(3, cluster)));
}
