#include "actors/passwords.hpp"

#include <sys/mman.h>

#include <charconv>
#include <cstring>
#include <memory>

#include <argon2.h>
#include <sodium.h>

namespace confab::actors::passwords {

namespace {

constexpr std::uint32_t cost_m_kib = 64 * 1024;  // crypto_pwhash_MEMLIMIT_INTERACTIVE
constexpr std::uint32_t cost_t = 2;              // crypto_pwhash_OPSLIMIT_INTERACTIVE
constexpr std::uint32_t max_m_kib = 256 * 1024;
constexpr std::uint32_t max_t = 16;
constexpr std::uint32_t max_p = 4;
constexpr std::size_t salt_bytes = 16;
constexpr std::size_t hash_bytes = 32;
constexpr auto b64 = sodium_base64_VARIANT_ORIGINAL_NO_PADDING;

// The work area of this thread: mapped once, as large as the largest cost
// asked for so far, asked to be backed by huge pages, and kept, so that a
// hash touches memory that is already there. One page fault per 4 KiB costs
// more than the hashing itself on a virtual machine.
struct work_area {
  void* base = nullptr;
  std::size_t size = 0;
  ~work_area() {
    if (base != nullptr)
      munmap(base, size);
  }
};

thread_local work_area area;

int lend_area(std::uint8_t** memory, std::size_t bytes) {
  if (bytes > area.size) {
    if (area.base != nullptr)
      munmap(area.base, area.size);
    area = {};
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      return ARGON2_MEMORY_ALLOCATION_ERROR;
    madvise(p, bytes, MADV_HUGEPAGE);  // hints: fine when the kernel says no
    madvise(p, bytes, MADV_DONTDUMP);
    area.base = p;
    area.size = bytes;
  }
  *memory = static_cast<std::uint8_t*>(area.base);
  return ARGON2_OK;
}

// Keeps the area for the next hash. libargon2 has zeroed it already (this
// version clears its work memory whatever the context's flags say, a pass
// over the 64 MiB per hash); it stays out of core dumps all the same.
void keep_area(std::uint8_t*, std::size_t) {}

bool expect(std::string_view& s, std::string_view what) {
  if (s.substr(0, what.size()) != what)
    return false;
  s.remove_prefix(what.size());
  return true;
}

std::optional<std::uint32_t> number(std::string_view& s, std::string_view name) {
  if (!expect(s, name))
    return std::nullopt;
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end == s.data() || (s.front() == '0' && end - s.data() > 1))
    return std::nullopt;
  s.remove_prefix(static_cast<std::size_t>(end - s.data()));
  return v;
}

std::optional<std::string> unbase64(std::string_view s) {
  std::string out(s.size(), '\0');
  std::size_t n = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.data(), s.size(), nullptr, &n, &end,
                        b64) != 0 ||
      end != s.data() + s.size())
    return std::nullopt;
  out.resize(n);
  return out;
}

std::string base64(const std::string& bin) {
  std::string out(sodium_base64_encoded_len(bin.size(), b64), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()), bin.size(), b64);
  out.resize(std::strlen(out.c_str()));
  return out;
}

argon2_context context(const phc& x, std::string_view password, std::uint8_t* out) {
  argon2_context c{};
  c.out = out;
  c.outlen = static_cast<std::uint32_t>(x.hash.size());
  c.pwd = reinterpret_cast<std::uint8_t*>(const_cast<char*>(password.data()));
  c.pwdlen = static_cast<std::uint32_t>(password.size());
  c.salt = reinterpret_cast<std::uint8_t*>(const_cast<char*>(x.salt.data()));
  c.saltlen = static_cast<std::uint32_t>(x.salt.size());
  c.t_cost = x.t;
  c.m_cost = x.m_kib;
  c.lanes = x.p;
  c.threads = 1;
  c.version = x.version;
  c.allocate_cbk = lend_area;
  c.free_cbk = keep_area;
  c.flags = ARGON2_DEFAULT_FLAGS;
  return c;
}

}  // namespace

std::optional<phc> parse(std::string_view s) {
  phc x;
  if (!expect(s, "$argon2id$"))
    return std::nullopt;
  auto v = number(s, "v=");
  if (!v || *v != ARGON2_VERSION_13 || !expect(s, "$"))
    return std::nullopt;
  auto m = number(s, "m=");
  auto t = m && expect(s, ",") ? number(s, "t=") : std::nullopt;
  auto p = t && expect(s, ",") ? number(s, "p=") : std::nullopt;
  if (!p || !expect(s, "$"))
    return std::nullopt;
  // libargon2's own bounds (at least 8 KiB per lane, 1 pass, 1 lane) and ours.
  if (*p < 1 || *p > max_p || *t < 1 || *t > max_t || *m < 8 * *p || *m > max_m_kib)
    return std::nullopt;
  auto dollar = s.find('$');
  if (dollar == std::string_view::npos)
    return std::nullopt;
  auto salt = unbase64(s.substr(0, dollar));
  auto hash = unbase64(s.substr(dollar + 1));
  if (!salt || !hash || salt->size() < 8 || salt->size() > 64 || hash->size() < 16 || hash->size() > 64)
    return std::nullopt;
  x.version = *v;
  x.m_kib = *m;
  x.t = *t;
  x.p = *p;
  x.salt = std::move(*salt);
  x.hash = std::move(*hash);
  return x;
}

std::string format(const phc& x) {
  return "$argon2id$v=" + std::to_string(x.version) + "$m=" + std::to_string(x.m_kib) + ",t=" + std::to_string(x.t) +
         ",p=" + std::to_string(x.p) + "$" + base64(x.salt) + "$" + base64(x.hash);
}

std::optional<std::string> hash(std::string_view password) {
  phc x{ARGON2_VERSION_13, cost_m_kib, cost_t, 1, std::string(salt_bytes, '\0'), std::string(hash_bytes, '\0')};
  randombytes_buf(x.salt.data(), x.salt.size());
  auto c = context(x, password, reinterpret_cast<std::uint8_t*>(x.hash.data()));
  if (argon2id_ctx(&c) != ARGON2_OK)
    return std::nullopt;
  return format(x);
}

std::string dummy() {
  phc x{ARGON2_VERSION_13, cost_m_kib, cost_t, 1, std::string(salt_bytes, '\0'), std::string(hash_bytes, '\0')};
  randombytes_buf(x.salt.data(), x.salt.size());
  randombytes_buf(x.hash.data(), x.hash.size());
  return format(x);
}

bool check(std::string_view encoded, std::string_view password) {
  auto x = parse(encoded);
  if (!x)
    return false;
  std::string computed(x->hash.size(), '\0');
  auto c = context(*x, password, reinterpret_cast<std::uint8_t*>(computed.data()));
  return argon2id_ctx(&c) == ARGON2_OK && sodium_memcmp(computed.data(), x->hash.data(), computed.size()) == 0;
}

}  // namespace confab::actors::passwords
