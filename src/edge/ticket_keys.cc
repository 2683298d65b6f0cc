#include "edge/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/hex.h"

namespace certgate::edge {
namespace {

// The record id the keys are sealed for (the associated data).
constexpr std::string_view kRecord = "session_ticket_keys";
// A key as stored: created (8 bytes, big-endian), name, aes, hmac.
constexpr size_t kKeyBytes = 8 + 16 + 32 + 32;
// Compare-and-set rounds before giving up (each lost round means another
// node wrote meanwhile, which the next round reads).
constexpr int kRounds = 5;

std::atomic<const TicketKeyRing*> g_ring{nullptr};

SecretBytes Serialize(const std::vector<TicketKey>& keys) {
  SecretBytes out(keys.size() * kKeyBytes);
  uint8_t* p = out.span().data();
  for (const TicketKey& k : keys) {
    const auto created = static_cast<uint64_t>(k.created);
    for (int i = 0; i < 8; ++i) *p++ = static_cast<uint8_t>(created >> (56 - 8 * i));
    p = std::copy(k.name.begin(), k.name.end(), p);
    p = std::copy(k.aes.begin(), k.aes.end(), p);
    p = std::copy(k.hmac.begin(), k.hmac.end(), p);
  }
  return out;
}

std::optional<std::vector<TicketKey>> Parse(std::span<const uint8_t> bytes) {
  if (bytes.empty() || bytes.size() % kKeyBytes != 0) return std::nullopt;
  std::vector<TicketKey> keys(bytes.size() / kKeyBytes);
  const uint8_t* p = bytes.data();
  for (TicketKey& k : keys) {
    uint64_t created = 0;
    for (int i = 0; i < 8; ++i) created = created << 8 | *p++;
    k.created = static_cast<int64_t>(created);
    std::copy(p, p + 16, k.name.begin());
    p += 16;
    std::copy(p, p + 32, k.aes.begin());
    p += 32;
    std::copy(p, p + 32, k.hmac.begin());
    p += 32;
  }
  return keys;
}

TicketKey NewKey(Time now) {
  TicketKey k;
  randombytes_buf(k.name.data(), k.name.size());
  randombytes_buf(k.aes.data(), k.aes.size());
  randombytes_buf(k.hmac.data(), k.hmac.size());
  k.created = ToUnixSeconds(now);
  return k;
}

// The stored keys, opened; an empty list when there are none.
Result<std::vector<TicketKey>> OpenStored(const std::optional<std::string>& stored,
                                          seal::KeyVault& vault) {
  if (!stored) return std::vector<TicketKey>();
  auto blob = HexDecode(*stored);
  if (!blob) {
    return MakeError(ErrorCode::kStoreIo, fmt::format("the store's setting {} is not hex",
                                                      kTicketKeysSetting));
  }
  CG_ASSIGN_OR_RETURN(SecretBytes plain, vault.Unseal(*blob, kRecord));
  auto keys = Parse(plain.span());
  if (!keys) {
    return MakeError(ErrorCode::kStoreIo,
                     fmt::format("the store's setting {} holds no well-formed keys",
                                 kTicketKeysSetting));
  }
  return *keys;
}

// OpenSSL's ticket key callback (SSL_CTX_set_tlsext_ticket_key_evp_cb):
// 1 done, 2 done but renew the ticket (its key is not the issuing one), 0 no
// key (encrypting: no ticket is sent; decrypting: a full handshake), -1 a
// failure that fails the handshake.
int OnTicketKey(SSL*, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                EVP_MAC_CTX* mac, int encrypt) {
  const TicketKeyRing* ring = g_ring.load();
  if (ring == nullptr) return 0;
  const Time now = SystemClock::Instance().Now();
  std::shared_ptr<const TicketKey> key;
  if (encrypt != 0) {
    key = ring->IssuingKey(now);
    if (key == nullptr) return 0;
    std::memcpy(name, key->name.data(), key->name.size());
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
  } else {
    key = ring->Find(name);
    if (key == nullptr) return 0;
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<uint8_t*>(key->hmac.data()),
                                        key->hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  const int ok = encrypt != 0
                     ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes.data(), iv)
                     : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes.data(), iv);
  if (ok != 1) return -1;
  if (encrypt != 0) return 1;
  const auto issuing = ring->IssuingKey(now);
  return issuing != nullptr && issuing->name == key->name ? 1 : 2;
}

}  // namespace

Result<void> TicketKeyRing::Refresh(store::SettingStore& settings, seal::KeyVault& vault,
                                    Time now) {
  const int64_t now_s = ToUnixSeconds(now);
  for (int round = 0; round < kRounds; ++round) {
    CG_ASSIGN_OR_RETURN(std::optional<std::string> stored, settings.GetSetting(kTicketKeysSetting));
    CG_ASSIGN_OR_RETURN(std::vector<TicketKey> keys, OpenStored(stored, vault));
    const bool due = keys.empty() || keys.front().created + options_.rotate_every.count() <= now_s;
    if (due) {
      keys.insert(keys.begin(), NewKey(now));
      if (keys.size() > options_.keep) keys.resize(options_.keep);
      SecretBytes plain = Serialize(keys);
      CG_ASSIGN_OR_RETURN(std::vector<uint8_t> blob, vault.Seal(plain.span(), kRecord));
      CG_ASSIGN_OR_RETURN(bool set,
                          settings.CompareAndSetSetting(kTicketKeysSetting, stored, HexEncode(blob)));
      if (!set) continue;  // another node added one: read theirs
      spdlog::info("edge: added a new TLS session ticket key ({} kept)", keys.size());
    }
    auto fresh = std::make_shared<Keys>();
    for (const TicketKey& k : keys) fresh->push_back(std::make_shared<const TicketKey>(k));
    keys_.store(std::move(fresh));
    return {};
  }
  return MakeError(ErrorCode::kStoreConflict,
                   fmt::format("the store's setting {} kept changing while the ticket keys were "
                               "rotated",
                               kTicketKeysSetting));
}

std::shared_ptr<const TicketKey> TicketKeyRing::IssuingKey(Time now) const {
  const int64_t ready_before = ToUnixSeconds(now) - options_.usable_after.count();
  const std::shared_ptr<const Keys> keys = keys_.load();
  for (const auto& k : *keys) {
    if (k->created <= ready_before) return k;
  }
  return keys->empty() ? nullptr : keys->back();
}

std::shared_ptr<const TicketKey> TicketKeyRing::Find(const unsigned char* name) const {
  const std::shared_ptr<const Keys> keys = keys_.load();
  for (const auto& k : *keys) {
    if (std::memcmp(k->name.data(), name, k->name.size()) == 0) return k;
  }
  return nullptr;
}

size_t TicketKeyRing::size() const { return keys_.load()->size(); }

Result<void> ResealTicketKeys(store::SettingStore& settings, seal::KeyVault& vault) {
  for (int round = 0; round < kRounds; ++round) {
    CG_ASSIGN_OR_RETURN(std::optional<std::string> stored, settings.GetSetting(kTicketKeysSetting));
    if (!stored) return {};
    auto blob = HexDecode(*stored);
    if (!blob) {
      return MakeError(ErrorCode::kStoreIo, fmt::format("the store's setting {} is not hex",
                                                        kTicketKeysSetting));
    }
    CG_ASSIGN_OR_RETURN(uint32_t version, seal::KeyVault::BlobKeyVersion(*blob));
    if (version == vault.current_version()) return {};
    CG_ASSIGN_OR_RETURN(SecretBytes plain, vault.Unseal(*blob, kRecord));
    CG_ASSIGN_OR_RETURN(std::vector<uint8_t> resealed, vault.Seal(plain.span(), kRecord));
    CG_ASSIGN_OR_RETURN(bool set,
                        settings.CompareAndSetSetting(kTicketKeysSetting, stored,
                                                      HexEncode(resealed)));
    if (set) return {};
  }
  return MakeError(ErrorCode::kStoreConflict,
                   fmt::format("the store's setting {} kept changing while it was re-sealed; run "
                               "rotate again",
                               kTicketKeysSetting));
}

void InstallTicketKeys(SSL_CTX* ctx, const TicketKeyRing* ring) {
  g_ring.store(ring);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &OnTicketKey);
}

}  // namespace certgate::edge
