// What the cluster port's TLS refuses, made visible, and caf_openssl's use of
// OpenSSL's error queue made safe.
//
// caf_openssl (CAF 0.17) builds an SSL_CTX for each node link inside CAF's
// multiplexer and offers the application no hook on it, so a peer refused in
// the handshake would go unseen. This file interposes OpenSSL's
// SSL_CTX_set_verify, which caf_openssl calls on every context it makes for
// mutual TLS (peer certificate required, no callback of its own), and gives
// exactly those contexts:
// - an info callback that logs each handshake that fails here (a peer without
//   a certificate, with one from another CA, or not speaking TLS at all, and
//   a peer that refused this node) with the peer's address and the reason,
//   once per address and reason a minute, so that a peer retrying cannot
//   flood the log; every refusal is counted (confab_cluster_tls_refused_total);
// - TLS 1.2 as the lowest version (caf_openssl sets none);
// - an empty error queue before each SSL_accept/connect/read/write (below).
// Contexts made by anyone else (the client port's Asio TLS, which passes its
// own mode or callback) are untouched.
//
// It is an OBJECT library linked into confabd (a symbol in a static library
// would not be pulled in), and the integration tests check its log lines, so
// a build where the interposition stops working fails there.
// Runs on CAF's multiplexer thread; the log limiter is behind a mutex.

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include "api/metrics.hpp"

namespace {

constexpr int mutual_tls = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
constexpr std::int64_t log_every_ms = 60000;
constexpr std::size_t max_remembered = 1024;

void on_info(const SSL* ssl, int where, int ret);

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// "host:port" of the other end of the SSL's socket, or "unknown".
std::string peer_of(const SSL* ssl, std::string& host) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int fd = SSL_get_fd(ssl);
  char buf[INET6_ADDRSTRLEN] = "unknown";
  unsigned port = 0;
  if (fd >= 0 && ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    if (ss.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
      port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
      port = ntohs(a->sin6_port);
    }
  }
  host = buf;
  return host + ":" + std::to_string(port);
}

// True when (host, reason) was not logged in the last minute.
bool first_in_a_while(const std::string& key) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::int64_t> last;
  std::lock_guard<std::mutex> lock(mu);
  auto now = now_ms();
  if (last.size() >= max_remembered)
    last.clear();
  auto [it, fresh] = last.try_emplace(key, now);
  if (!fresh && now - it->second < log_every_ms)
    return false;
  it->second = now;
  return true;
}

// Called by OpenSSL as a handshake of a cluster context goes; acts on the
// call that ends it in failure.
void on_info(const SSL* ssl, int where, int ret) {
  if ((where & SSL_CB_EXIT) == 0 || ret > 0)
    return;  // a step of the handshake done
  // The I/O wrappers below empty the queue before each call, so an error
  // there now is this call's: the handshake failed (none: it waits for the
  // socket; SSL_want says "reading" in both cases).
  auto err = ERR_peek_last_error();
  if (err == 0)
    return;
  const char* reason = ERR_reason_error_string(err);
  std::string why = reason != nullptr ? reason : "handshake failed";
  std::string host;
  auto peer = peer_of(ssl, host);
  if (err != 0 && ERR_GET_REASON(err) >= SSL_AD_REASON_OFFSET) {
    // An alert from the peer: it refused this node.
    if (first_in_a_while(host + "\nthem\n" + why))
      spdlog::warn("cluster port: TLS peer {} refused this node in the handshake: {}", peer, why);
    return;
  }
  confab::api::node_metrics().cluster_tls_refused.fetch_add(1, std::memory_order_relaxed);
  auto verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK)
    why += std::string(": ") + X509_verify_cert_error_string(verify) + " (a certificate not from this cluster's CA)";
  if (first_in_a_while(host + "\n" + why))
    spdlog::warn("cluster port: refused TLS peer {} in the handshake: {}", peer, why);
  else
    spdlog::debug("cluster port: refused TLS peer {} in the handshake: {}", peer, why);
}

bool audited(const SSL* ssl) {
  return SSL_CTX_get_info_callback(SSL_get_SSL_CTX(ssl)) == on_info;
}

template <class Fn>
Fn real(const char* name) {
  auto* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr) {
    std::fprintf(stderr, "confab: OpenSSL's %s not found\n", name);
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

}  // namespace

extern "C" {

void SSL_CTX_set_verify(SSL_CTX* ctx, int mode, SSL_verify_cb callback) {
  static const auto next = real<void (*)(SSL_CTX*, int, SSL_verify_cb)>("SSL_CTX_set_verify");
  if (mode == mutual_tls && callback == nullptr) {
    SSL_CTX_set_info_callback(ctx, on_info);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  }
  next(ctx, mode, callback);
}

// caf_openssl reads SSL_get_error after each of these without emptying the
// thread's error queue first, as OpenSSL requires: one failed link (a peer
// refused, a peer killed) would leave an error there that makes the next
// "would block" on any other link of CAF's multiplexer thread look fatal, and
// CAF would drop that healthy link. So, for cluster contexts only, the queue
// is emptied before each call, as Asio does for its own.
int SSL_accept(SSL* ssl) {
  static const auto next = real<int (*)(SSL*)>("SSL_accept");
  if (audited(ssl))
    ERR_clear_error();
  return next(ssl);
}

int SSL_connect(SSL* ssl) {
  static const auto next = real<int (*)(SSL*)>("SSL_connect");
  if (audited(ssl))
    ERR_clear_error();
  return next(ssl);
}

int SSL_read(SSL* ssl, void* buf, int num) {
  static const auto next = real<int (*)(SSL*, void*, int)>("SSL_read");
  if (audited(ssl))
    ERR_clear_error();
  return next(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static const auto next = real<int (*)(SSL*, const void*, int)>("SSL_write");
  if (audited(ssl))
    ERR_clear_error();
  return next(ssl, buf, num);
}

}  // extern "C"
