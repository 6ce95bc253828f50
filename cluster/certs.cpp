#include "cluster/certs.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace confab::cluster {

namespace {

template <auto Free>
struct deleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using key_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY_free>>;
using cert_ptr = std::unique_ptr<X509, deleter<X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO_free_all>>;
using store_ptr = std::unique_ptr<X509_STORE, deleter<X509_STORE_free>>;
using store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, deleter<X509_STORE_CTX_free>>;
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, deleter<SSL_CTX_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BN_free>>;

// OpenSSL's queued errors as text (the last one is the most specific), and
// the queue emptied.
std::string ssl_error() {
  std::string out;
  while (auto e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    out = buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// A key file must never ask for a passphrase on a terminal.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

bio_ptr open_read(const std::string& path, std::string& err) {
  bio_ptr bio{BIO_new_file(path.c_str(), "r")};
  if (!bio)
    err = std::strerror(errno);
  ERR_clear_error();
  return bio;
}

// The first PEM object of `kind` in `path`, read by `read`; null and `err`
// set to one line otherwise.
template <class Ptr, class Read>
Ptr read_pem(const std::string& path, const char* what, const char* kind, Read read, std::string& err) {
  auto bio = open_read(path, err);
  if (!bio) {
    err = std::string("cannot read ") + what + " " + path + ": " + err;
    return nullptr;
  }
  Ptr p{read(bio.get(), nullptr, no_passphrase, nullptr)};
  if (!p)
    err = std::string(what) + " " + path + " holds no " + kind + ": " + ssl_error();
  return p;
}

cert_ptr read_cert(const std::string& path, const char* what, std::string& err) {
  return read_pem<cert_ptr>(path, what, "PEM certificate", PEM_read_bio_X509, err);
}

key_ptr read_key(const std::string& path, const char* what, std::string& err) {
  return read_pem<key_ptr>(path, what, "unencrypted PEM private key", PEM_read_bio_PrivateKey, err);
}

std::string time_text(const ASN1_TIME* t) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  ASN1_TIME_print(bio.get(), t);
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

// Empty when `cert` is valid now.
std::string check_dates(const X509* cert, const std::string& what) {
  if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
    return what + " is not valid before " + time_text(X509_get0_notBefore(cert));
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
    return what + " expired on " + time_text(X509_get0_notAfter(cert));
  return {};
}

// Creates `path` for writing with `mode`, failing if it exists.
std::string write_new(const std::string& path, mode_t mode, const std::function<int(BIO*)>& write) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, mode);
  if (fd < 0)
    return errno == EEXIST ? path + " exists already: remove it first to make a new one"
                           : "cannot create " + path + ": " + std::strerror(errno);
  bio_ptr bio{BIO_new_fd(fd, BIO_CLOSE)};
  if (!bio || write(bio.get()) != 1 || BIO_flush(bio.get()) != 1 || ::fsync(fd) != 0) {
    auto why = ssl_error();
    bio.reset();
    ::unlink(path.c_str());
    return "cannot write " + path + ": " + why;
  }
  return {};
}

key_ptr new_key() {
  return key_ptr{EVP_EC_gen("P-256")};
}

bool add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  auto* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr)
    return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key` named `cn`, valid from five minutes ago (clocks of
// nodes differ a little) for `days`, with a random 127-bit serial.
cert_ptr new_cert(EVP_PKEY* key, const std::string& cn, int days) {
  cert_ptr cert{X509_new()};
  unsigned char serial[16];
  if (!cert || RAND_bytes(serial, sizeof(serial)) != 1)
    return nullptr;
  serial[0] &= 0x7f;
  bn_ptr bn{BN_bin2bn(serial, sizeof(serial), nullptr)};
  bool ok = bn && X509_set_version(cert.get(), 2) == 1 &&
            BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) != nullptr &&
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300) != nullptr &&
            X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr) != nullptr &&
            X509_set_pubkey(cert.get(), key) == 1;
  auto* name = X509_get_subject_name(cert.get());
  ok = ok &&
       X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Confab cluster"),
                                  -1, -1, 0) == 1 &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                  0) == 1;
  return ok ? std::move(cert) : nullptr;
}

// "IP:127.0.0.1" or "DNS:name" for a subjectAltName.
std::string alt_name(const std::string& host) {
  unsigned char buf[16];
  bool ip = inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
  return (ip ? "IP:" : "DNS:") + host;
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64)
    return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  return s[0] != '.' && s[0] != '-';
}

}  // namespace

std::string make_ca(const std::string& dir, int days) {
  if (days < 1 || days > 36500)
    return "--days must be 1-36500";
  auto key = new_key();
  if (!key)
    return "cannot make a P-256 key: " + ssl_error();
  auto cert = new_cert(key.get(), "Confab cluster CA", days);
  bool ok = cert && X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) == 1 &&
            add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
            add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") &&
            add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash") &&
            X509_sign(cert.get(), key.get(), EVP_sha256()) > 0;
  if (!ok)
    return "cannot make the CA certificate: " + ssl_error();
  // The key first: a CA certificate without its key could sign nothing.
  if (auto err = write_new(
          dir + "/ca.key", 0600,
          [&](BIO* b) { return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
      !err.empty())
    return err;
  return write_new(dir + "/ca.pem", 0644, [&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
}

std::string make_node_cert(const std::string& dir, const std::string& node_id, const std::vector<std::string>& hosts,
                           int days) {
  if (!valid_name(node_id))
    return "--node-id must be 1-64 of [A-Za-z0-9._-], not starting with . or -";
  if (days < 1 || days > 36500)
    return "--days must be 1-36500";
  std::string err;
  auto ca = read_cert(dir + "/ca.pem", "CA certificate", err);
  if (!ca)
    return err + " (make one with: confabctl cert ca --dir " + dir + ")";
  auto ca_key = read_key(dir + "/ca.key", "CA key", err);
  if (!ca_key)
    return err;
  if (X509_check_private_key(ca.get(), ca_key.get()) != 1)
    return dir + "/ca.key is not the key of " + dir + "/ca.pem";
  auto key = new_key();
  if (!key)
    return "cannot make a P-256 key: " + ssl_error();
  std::string names = "DNS:" + node_id;
  for (auto& h : hosts) {
    if (h.empty() || h.find_first_of(", \t\n") != std::string::npos)
      return "--host " + h + " is not a host name or address";
    names += ',';
    names += alt_name(h);
  }
  auto cert = new_cert(key.get(), node_id, days);
  bool ok = cert && X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get())) == 1 &&
            add_ext(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE") &&
            add_ext(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyAgreement") &&
            add_ext(cert.get(), ca.get(), NID_ext_key_usage, "serverAuth,clientAuth") &&
            add_ext(cert.get(), ca.get(), NID_subject_alt_name, names) &&
            add_ext(cert.get(), ca.get(), NID_authority_key_identifier, "keyid:always") &&
            X509_sign(cert.get(), ca_key.get(), EVP_sha256()) > 0;
  if (!ok)
    return "cannot make the node certificate: " + ssl_error();
  auto base = dir + "/" + node_id;
  if (auto e = write_new(
          base + ".key", 0600,
          [&](BIO* b) { return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
      !e.empty())
    return e;
  return write_new(base + ".pem", 0644, [&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
}

std::string check_tls_files(const tls_files& f) {
  std::string err;
  auto ca = read_cert(f.ca, "cluster CA", err);
  if (!ca)
    return err;
  auto cert = read_cert(f.cert, "cluster certificate", err);
  if (!cert)
    return err;
  auto key = read_key(f.key, "cluster key", err);
  if (!key)
    return err;
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return "cluster key " + f.key + " is not the key of the cluster certificate " + f.cert;
  }
  if (auto e = check_dates(ca.get(), "cluster CA " + f.ca); !e.empty())
    return e;
  if (auto e = check_dates(cert.get(), "cluster certificate " + f.cert); !e.empty())
    return e;
  // The same loads caf_openssl makes for each connection, so that none of
  // them can fail (and throw) once the node runs.
  ssl_ctx_ptr ctx{SSL_CTX_new(TLS_method())};
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx.get(), f.cert.c_str()) != 1)
    return "cluster certificate " + f.cert + " cannot be loaded: " + ssl_error();
  SSL_CTX_set_default_passwd_cb(ctx.get(), no_passphrase);
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), f.key.c_str(), SSL_FILETYPE_PEM) != 1)
    return "cluster key " + f.key + " cannot be loaded: " + ssl_error();
  if (SSL_CTX_load_verify_locations(ctx.get(), f.ca.c_str(), nullptr) != 1)
    return "cluster CA " + f.ca + " cannot be loaded: " + ssl_error();
  // The certificate must chain to the CA, or every peer refuses this node.
  store_ptr store{X509_STORE_new()};
  store_ctx_ptr sctx{X509_STORE_CTX_new()};
  if (!store || !sctx || X509_STORE_load_file(store.get(), f.ca.c_str()) != 1 ||
      X509_STORE_CTX_init(sctx.get(), store.get(), cert.get(), nullptr) != 1)
    return "cannot check the cluster certificate: " + ssl_error();
  if (X509_verify_cert(sctx.get()) != 1) {
    ERR_clear_error();
    return "cluster certificate " + f.cert + " is not signed by the cluster CA " + f.ca + ": " +
           X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx.get()));
  }
  return {};
}

}  // namespace confab::cluster
