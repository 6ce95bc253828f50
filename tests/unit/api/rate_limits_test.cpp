#define CAF_SUITE rate_limits
#include <caf/test/unit_test.hpp>

#include "api/rate_limits.hpp"

using namespace confab;

CAF_TEST(a token bucket gives its burst at once and then its rate) {
  api::token_bucket b;
  b.configure(2, 3, 1000);  // 2 a second, 3 at once
  for (int i = 0; i < 3; ++i)
    CAF_CHECK_EQUAL(b.take(1000), 0u);
  auto wait = b.take(1000);
  CAF_CHECK(wait > 0 && wait <= 501);  // one token comes back in 500 ms
  CAF_CHECK(b.take(1200) > 0);
  CAF_CHECK_EQUAL(b.take(1600), 0u);
  // Idle time refills it up to the burst, not past it.
  CAF_CHECK_EQUAL(b.take(60000), 0u);
  CAF_CHECK_EQUAL(b.take(60000), 0u);
  CAF_CHECK_EQUAL(b.take(60000), 0u);
  CAF_CHECK(b.take(60000) > 0);
}

CAF_TEST(an attempt window counts each key within its window) {
  api::attempt_window w;
  w.configure(2, 60000);
  CAF_CHECK_EQUAL(w.wait_ms("ann", 0), 0);
  w.record("ann", 0);
  w.record("ann", 10000);
  CAF_CHECK_EQUAL(w.wait_ms("ann", 20000), 40000);  // until the first leaves the window
  CAF_CHECK_EQUAL(w.wait_ms("bob", 20000), 0);      // keys are apart
  CAF_CHECK_EQUAL(w.wait_ms("ann", 60000), 0);
  w.record("ann", 60000);
  CAF_CHECK_EQUAL(w.wait_ms("ann", 60001), 9999);
  w.clear("ann");
  CAF_CHECK_EQUAL(w.wait_ms("ann", 60001), 0);
}
