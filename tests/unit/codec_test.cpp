#define CAF_SUITE codec
#include <caf/test/unit_test.hpp>

#include <sodium.h>

#include "actors/passwords.hpp"
#include "actors/tokens.hpp"
#include "config/cli.hpp"
#include "wire/codec.hpp"

using namespace confab;

CAF_TEST(code points count characters not bytes) {
  CAF_CHECK_EQUAL(wire::code_points("abc"), 3u);
  CAF_CHECK_EQUAL(wire::code_points("\xF0\x9F\x98\x80"), 1u);  // one emoji
  CAF_CHECK_EQUAL(wire::code_points("\xE2\x80\x8F"
                                    "a"),
                  2u);  // RTL mark + a
  CAF_CHECK_EQUAL(wire::code_points(std::string("a\0b", 3)), 3u);
}

CAF_TEST(frames that are not JSON objects are told apart) {
  wire::json j;
  CAF_CHECK(wire::parse_object("{\"op\":\"ping\"}", j) == wire::parse_status::ok);
  CAF_CHECK(wire::parse_object("[1,2]", j) == wire::parse_status::not_object);
  CAF_CHECK(wire::parse_object("\"text\"", j) == wire::parse_status::not_object);
  CAF_CHECK(wire::parse_object("{\"op\":", j) == wire::parse_status::not_json);
  CAF_CHECK(wire::parse_object("{\"a\":\"\xff\"}", j) == wire::parse_status::not_json);
}

CAF_TEST(field readers reject wrong types) {
  auto j = wire::json::parse(R"({"s":"x","n":5,"neg":-1,"f":1.5,"nul":null})");
  std::string err;
  CAF_CHECK_EQUAL(wire::string_field(j, "s", true, err).value_or(""), "x");
  CAF_CHECK(err.empty());
  CAF_CHECK(!wire::string_field(j, "n", true, err));
  CAF_CHECK(!err.empty());
  err.clear();
  CAF_CHECK(!wire::string_field(j, "missing", false, err));
  CAF_CHECK(err.empty());
  CAF_CHECK(!wire::string_field(j, "missing", true, err));
  CAF_CHECK(!err.empty());
  err.clear();
  CAF_CHECK_EQUAL(wire::seq_field(j, "n", err).value_or(0), 5u);
  CAF_CHECK(!wire::seq_field(j, "neg", err));
  CAF_CHECK(!err.empty());
  err.clear();
  CAF_CHECK(!wire::seq_field(j, "f", err));
  CAF_CHECK(!err.empty());
  err.clear();
  CAF_CHECK(!wire::seq_field(j, "nul", err));
  CAF_CHECK(err.empty());
}

CAF_TEST(replies and errors have the contract shape) {
  CAF_CHECK_EQUAL(wire::ok_reply("7", "{}"), R"({"op":"ok","id":7,"data":{}})");
  auto e = wire::json::parse(wire::error_reply("\"x\"", {api::errc::rate_limited, "slow down", 250}));
  CAF_CHECK_EQUAL(e["op"], "error");
  CAF_CHECK_EQUAL(e["id"], "x");
  CAF_CHECK_EQUAL(e["code"], "rate_limited");
  CAF_CHECK_EQUAL(e["retry_after_ms"], 250);
  auto h = wire::json::parse(wire::http_error({api::errc::not_member, "no", 0}));
  CAF_CHECK_EQUAL(h["error"]["code"], "not_member");
  CAF_CHECK(!h["error"].contains("retry_after_ms"));
  wire::message_fields m{api::room_id{"r_1"}, 3, "m_1", "alice", 5, std::string("a\0b", 3), "c", 0, ""};
  auto msg = wire::json::parse(wire::message_json(m));
  CAF_CHECK_EQUAL(msg["body"].get<std::string>(), std::string("a\0b", 3));
  CAF_CHECK(!msg.contains("reply_to"));
}

CAF_TEST(tokens verify only with the right secret and before expiry) {
  api::token_claims c{{api::user_id{"u_1"}, "alice"}, "t_1", 1000, 10'000'000};
  auto token = actors::tokens::sign("secret-one-secret-one-secret-one", c);
  auto ok = actors::tokens::verify("secret-one-secret-one-secret-one", token, 2000);
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->who.username, "alice");
  CAF_CHECK_EQUAL(ok->jti, "t_1");
  CAF_CHECK(!actors::tokens::verify("secret-two-secret-two-secret-two", token, 2000));
  CAF_CHECK(!actors::tokens::verify("secret-one-secret-one-secret-one", token, 10'000'001));
  auto tampered = token;
  tampered[tampered.find('.') + 5] ^= 1;
  CAF_CHECK(!actors::tokens::verify("secret-one-secret-one-secret-one", tampered, 2000));
  CAF_CHECK(!actors::tokens::verify("secret-one-secret-one-secret-one", "a.b", 2000));
  CAF_CHECK(!actors::tokens::verify("secret-one-secret-one-secret-one", "", 2000));
}

CAF_TEST(options parse flags sizes and reject bad input) {
  const char* good[] = {"confabd", "--http-port", "0", "--max-file-size", "2M", "--rate-burst", "5"};
  auto r = config::parse(7, good);
  CAF_REQUIRE(std::holds_alternative<config::options>(r));
  auto& o = std::get<config::options>(r);
  CAF_CHECK_EQUAL(o.http_port, 0);
  CAF_CHECK_EQUAL(o.lim.max_file_size, 2u * 1024 * 1024);
  CAF_CHECK_EQUAL(o.lim.rate_burst, 5.0);
  CAF_CHECK_EQUAL(o.secret_file, "./data/secret");
  const char* unknown[] = {"confabd", "--no-such-flag"};
  CAF_CHECK(std::holds_alternative<config::parse_error>(config::parse(2, unknown)));
  const char* bad_port[] = {"confabd", "--http-port", "99999"};
  CAF_CHECK(std::holds_alternative<config::parse_error>(config::parse(3, bad_port)));
  const char* cluster[] = {"confabd", "--seeds", "127.0.0.1:7000"};
  CAF_CHECK(std::holds_alternative<config::parse_error>(config::parse(3, cluster)));
  std::uint64_t size = 0;
  CAF_CHECK(config::parse_size("10K", size) && size == 10240);
  CAF_CHECK(!config::parse_size("10X", size));
  CAF_CHECK(!config::parse_size("-1", size));
}

CAF_TEST(password hashes read and write the format of libsodium) {
  // A hash written by libsodium's crypto_pwhash_str (as every stored account
  // before libargon2 has) checks, and one of ours checks with libsodium.
  char theirs[crypto_pwhash_STRBYTES];
  CAF_REQUIRE_EQUAL(
      crypto_pwhash_str(theirs, "hunter22", 8, crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE),
      0);
  CAF_CHECK(actors::passwords::check(theirs, "hunter22"));
  CAF_CHECK(!actors::passwords::check(theirs, "hunter23"));
  auto ours = actors::passwords::hash("correct horse");
  CAF_REQUIRE(ours);
  CAF_CHECK_EQUAL(crypto_pwhash_str_verify(ours->c_str(), "correct horse", 13), 0);
  CAF_CHECK_NOT_EQUAL(crypto_pwhash_str_verify(ours->c_str(), "correct horsf", 13), 0);
  CAF_CHECK(actors::passwords::check(*ours, "correct horse"));
  CAF_CHECK(!actors::passwords::check(*ours, ""));
  // Two hashes of one password differ by their salt.
  auto again = actors::passwords::hash("correct horse");
  CAF_REQUIRE(again);
  CAF_CHECK_NOT_EQUAL(*ours, *again);
  auto x = actors::passwords::parse(*ours);
  CAF_REQUIRE(x);
  CAF_CHECK_EQUAL(x->m_kib, 65536u);
  CAF_CHECK_EQUAL(x->t, 2u);
  CAF_CHECK_EQUAL(x->p, 1u);
  CAF_CHECK_EQUAL(x->salt.size(), 16u);
  CAF_CHECK_EQUAL(actors::passwords::format(*x), *ours);
}

CAF_TEST(password hashes that ask for too much work or are malformed do not check) {
  auto ours = *actors::passwords::hash("pw");
  auto tail = ours.substr(ours.find("$", 30));  // "$salt$hash"
  for (const std::string& bad :
       std::vector<std::string>{"$argon2id$v=19$m=1048576,t=2,p=1" + tail, "$argon2id$v=19$m=65536,t=100,p=1" + tail,
                                "$argon2id$v=19$m=65536,t=2,p=9" + tail, "$argon2id$v=19$m=65536,t=0,p=1" + tail,
                                "$argon2i$v=19$m=65536,t=2,p=1" + tail, "$argon2id$v=16$m=65536,t=2,p=1" + tail,
                                "$argon2id$v=19$m=065536,t=2,p=1" + tail, "$argon2id$v=19$m=65536,t=2,p=1$",
                                ours.substr(0, ours.size() - 2) + "!!", ours + "$", std::string{},
                                std::string("$argon2id$v=19$m=65536,t=2,p=1$\0\0", 34)}) {
    CAF_CHECK(!actors::passwords::parse(bad));
    CAF_CHECK(!actors::passwords::check(bad, "pw"));
  }
}

CAF_TEST(the dummy hash costs what a real one does and matches no password) {
  auto dummy = actors::passwords::dummy();
  auto x = actors::passwords::parse(dummy);
  auto real = actors::passwords::parse(*actors::passwords::hash("pw"));
  CAF_REQUIRE(x && real);
  CAF_CHECK_EQUAL(x->m_kib, real->m_kib);
  CAF_CHECK_EQUAL(x->t, real->t);
  CAF_CHECK_EQUAL(x->p, real->p);
  CAF_CHECK_EQUAL(x->hash.size(), real->hash.size());
  CAF_CHECK_NOT_EQUAL(dummy, actors::passwords::dummy());
  CAF_CHECK(!actors::passwords::check(dummy, ""));
  CAF_CHECK(!actors::passwords::check(dummy, "pw"));
  // A hash shorter than 16 bytes (libsodium's least) is not a stored hash.
  auto short_hash = *real;
  short_hash.hash.resize(12);
  CAF_CHECK(!actors::passwords::parse(actors::passwords::format(short_hash)));
}
