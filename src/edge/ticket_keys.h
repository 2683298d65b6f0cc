// TLS session ticket keys shared by every node on one store, so that a
// client resumes its session on whichever node it reaches next (OpenSSL's
// own keys are random per process: a ticket from node A is useless on B,
// and on A after a restart).
//
// The keys live in the store, sealed under the master key (setting
// kTicketKeysSetting, hex): newest first, each with its creation time. A new
// key is added every rotate_every and the newest `keep` kept, so a ticket
// stays accepted for about keep * rotate_every (its lifetime is shorter).
// A key is used to issue tickets only once it is usable_after old, by which
// time every node has read it (they refresh more often than that): a ticket
// issued by one node is never one that another cannot open. Adding a key is
// a compare-and-set, so nodes due at once add one key between them.
//
// One ring per process: OpenSSL's ticket key callback has no argument, so
// InstallTicketKeys keeps the ring in a process-wide pointer.
#pragma once

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "seal/key_vault.h"
#include "store/setting_store.h"

namespace certgate::edge {

inline constexpr char kTicketKeysSetting[] = "session_ticket_keys";

struct TicketKey {
  std::array<uint8_t, 16> name{};  // sent in the ticket: which key opens it
  std::array<uint8_t, 32> aes{};   // AES-256-CBC
  std::array<uint8_t, 32> hmac{};  // HMAC-SHA256
  int64_t created = 0;             // unix seconds

  TicketKey() = default;
  TicketKey(const TicketKey&) = default;
  TicketKey& operator=(const TicketKey&) = default;
  // Every copy's secrets are wiped when it goes.
  ~TicketKey() {
    OPENSSL_cleanse(aes.data(), aes.size());
    OPENSSL_cleanse(hmac.data(), hmac.size());
  }
};

struct TicketKeyOptions {
  std::chrono::seconds rotate_every{12 * 3600};
  size_t keep = 4;
  std::chrono::seconds usable_after{120};
};

class TicketKeyRing {
 public:
  explicit TicketKeyRing(TicketKeyOptions options = {}) : options_(options) {}
  // Reads the keys from the store, adding a new one when the newest is
  // rotate_every old (or there is none), and uses them from now on.
  Result<void> Refresh(store::SettingStore& settings, seal::KeyVault& vault, Time now);

  // The key to issue tickets with at now: the newest that is usable_after
  // old, else (all are newer: a new cluster) the oldest. nullptr if none.
  std::shared_ptr<const TicketKey> IssuingKey(Time now) const;
  // The key named name, nullptr if it is not (or no longer) kept.
  std::shared_ptr<const TicketKey> Find(const unsigned char* name) const;
  size_t size() const;

 private:
  using Keys = std::vector<std::shared_ptr<const TicketKey>>;  // newest first

  const TicketKeyOptions options_;
  // Swapped whole by Refresh; a handshake reads it without taking a lock
  // that a refresh (which may wait on the store) could hold.
  std::atomic<std::shared_ptr<const Keys>> keys_{std::make_shared<const Keys>()};
};

// Re-seals the stored keys under vault's current master key version if they
// are under an older one (`admin keys rotate`), so that retiring the old
// version leaves them readable. Nothing when there are none.
Result<void> ResealTicketKeys(store::SettingStore& settings, seal::KeyVault& vault);

// Makes ctx (the edge's front context, whose ticket callback OpenSSL uses
// for every handshake that starts on it) encrypt and decrypt tickets with
// ring's keys. ring must outlive every handshake.
void InstallTicketKeys(SSL_CTX* ctx, const TicketKeyRing* ring);

}  // namespace certgate::edge
