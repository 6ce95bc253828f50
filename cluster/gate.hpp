#pragma once

// Gate: the one actor a node publishes on its cluster port. A peer that got
// through the mutual-TLS handshake (section 5) reaches only this actor, and
// it hands out nothing until the peer has shown that it holds the cluster
// secret: tokens signed by a node with another secret would not verify on
// the others, so such a node is refused even with a valid certificate.
//
// The join, with fresh nonces on both sides so that no proof can be replayed:
//   joiner -> gate  challenge(joiner_nonce)
//   gate   -> joiner (gate_node_id, gate_nonce, proof("welcome", joiner_nonce, gate_node_id))
//      the joiner checks that proof before it sends anything of its own;
//   joiner -> gate  hello(card, gate_nonce, proof("join", gate_nonce, card.id))
//   gate   -> joiner (this node's card, the other members' addresses)
//      after the node actor admitted the joiner's card.
// So the joiner's actor handles reach only a node that proved the secret, and
// this node's handles and member list only a joiner that proved it.
//
// Runs on the CAF scheduler, next to the node actor it admits members to.

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>

namespace confab::cluster {

struct gate_state {
  static inline const char* name = "confab.gate";
  std::string secret;
  std::string node_id;
  caf::actor node;
  // Nonces handed out to joiners, oldest first (bounded).
  std::vector<std::string> nonces;
};

caf::behavior gate_actor(caf::stateful_actor<gate_state>* self, std::string secret, std::string node_id,
                         caf::actor node);

// HMAC-SHA256 of `role`, `nonce` and `id` under `secret`, as hex.
[[nodiscard]] std::string link_proof(const std::string& secret, const std::string& role, const std::string& nonce,
                                     const std::string& id);

// 16 random bytes as hex.
[[nodiscard]] std::string random_nonce();

// Whether `proof` is link_proof(secret, role, nonce, id), compared in
// constant time.
[[nodiscard]] bool proof_holds(const std::string& proof, const std::string& secret, const std::string& role,
                               const std::string& nonce, const std::string& id);

}  // namespace confab::cluster
