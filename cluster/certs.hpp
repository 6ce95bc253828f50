#pragma once

// Certificates for mutual TLS between nodes (PROTOCOL.md section 5): making a
// cluster CA and node certificates (confabctl cert), and checking a node's
// files before confabd hands them to caf_openssl, which cannot report a bad
// file except by throwing inside its multiplexer. OpenSSL only: no CAF here,
// so confabctl links it without the actor runtime. Every call is synchronous
// and thread-safe; errors come back as one line for the operator.

#include <string>
#include <vector>

namespace confab::cluster {

struct tls_files {
  std::string ca;    // PEM: the cluster CA certificate(s)
  std::string cert;  // PEM: this node's certificate (chain)
  std::string key;   // PEM: its private key, unencrypted
};

// Writes DIR/ca.pem and DIR/ca.key (mode 0600), a new P-256 CA valid for
// `days`. Refuses to overwrite either file. Empty when done, else why not.
[[nodiscard]] std::string make_ca(const std::string& dir, int days);

// Writes DIR/<node_id>.pem and DIR/<node_id>.key (mode 0600): a P-256 key and
// a certificate for client and server use signed by DIR/ca.pem and ca.key,
// naming the node id (common name and DNS name) and each of `hosts` (an IP
// address or a DNS name). Refuses to overwrite.
[[nodiscard]] std::string make_node_cert(const std::string& dir, const std::string& node_id,
                                         const std::vector<std::string>& hosts, int days);

// Whether the three files can carry mutual TLS: each readable PEM, the key
// that of the certificate, the certificate valid now and signed by the CA.
// Empty when they can, else one line that names the file at fault.
[[nodiscard]] std::string check_tls_files(const tls_files& files);

}  // namespace confab::cluster
