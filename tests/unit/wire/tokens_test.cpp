#define CAF_SUITE token_payload
#include <caf/test/unit_test.hpp>

#include "wire/tokens.hpp"

using namespace confab;

CAF_TEST(a token payload decodes to the claims it was made of) {
  api::token_claims c{{api::user_id{"u_1"}, "ann"}, "t_9", 1234, 5000};
  auto text = wire::token_payload_json(c);
  CAF_CHECK_EQUAL(text, R"({"exp":5,"iat_ms":1234,"jti":"t_9","sub":"u_1","usr":"ann"})");
  auto back = wire::decode_token_payload(text);
  CAF_REQUIRE(back);
  CAF_CHECK_EQUAL(back->who.id.value, "u_1");
  CAF_CHECK_EQUAL(back->who.username, "ann");
  CAF_CHECK_EQUAL(back->jti, "t_9");
  CAF_CHECK_EQUAL(back->issued_at, 1234);
  CAF_CHECK_EQUAL(back->expires_at, 5000);
}

CAF_TEST(a payload with a missing or mistyped field or an exp past range is refused) {
  CAF_CHECK(!wire::decode_token_payload(R"({"exp":5,"iat_ms":1,"jti":"t","sub":"u"})"));
  CAF_CHECK(!wire::decode_token_payload(R"({"exp":"5","iat_ms":1,"jti":"t","sub":"u","usr":"a"})"));
  CAF_CHECK(!wire::decode_token_payload(R"({"exp":9223372036854775807,"iat_ms":1,"jti":"t","sub":"u","usr":"a"})"));
  CAF_CHECK(!wire::decode_token_payload(R"({"exp":-1,"iat_ms":1,"jti":"t","sub":"u","usr":"a"})"));
  CAF_CHECK(!wire::decode_token_payload("[]"));
  CAF_CHECK(!wire::decode_token_payload("{"));
}
