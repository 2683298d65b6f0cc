#include "app/master_key_check.h"

#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/hex.h"

namespace certgate::app {
namespace {

// What is sealed, and the record id it is sealed for (the associated data):
// neither is secret; only a key that opens it matters.
constexpr std::string_view kCheckText = "certgate master key check v1";
constexpr std::string_view kCheckRecord = "master_key_check";
// Compare-and-set rounds before giving up: each lost round means another
// process wrote a value meanwhile, which the next round reads.
constexpr int kRounds = 5;

Result<std::string> SealedCheck(seal::KeyVault& vault) {
  std::span<const uint8_t> text(reinterpret_cast<const uint8_t*>(kCheckText.data()),
                                kCheckText.size());
  CG_ASSIGN_OR_RETURN(std::vector<uint8_t> blob, vault.Seal(text, kCheckRecord));
  return HexEncode(blob);
}

// What opening the stored value found.
struct Opened {
  uint32_t version = 0;  // the master key version that sealed it
};

Result<Opened> OpenCheck(const std::string& stored, seal::KeyVault& vault,
                         std::string_view key_source) {
  auto blob = HexDecode(stored);
  if (!blob) {
    return MakeError(ErrorCode::kStoreIo,
                     fmt::format("the store's setting {} is not hex; it was written around "
                                 "certgate. Remove it only if every process of this store uses "
                                 "the same master key",
                                 kMasterKeyCheckSetting));
  }
  CG_ASSIGN_OR_RETURN(uint32_t version, seal::KeyVault::BlobKeyVersion(*blob));
  auto opened = vault.Unseal(*blob, kCheckRecord);
  if (opened.ok()) {
    if (opened->view() != kCheckText) {
      return MakeError(ErrorCode::kStoreIo,
                       fmt::format("the store's setting {} opens to unexpected text",
                                   kMasterKeyCheckSetting));
    }
    return Opened{version};
  }
  if (opened.error().code == ErrorCode::kMasterKeyUnknownVersion) {
    return MakeError(
        ErrorCode::kMasterKeyMismatch,
        fmt::format("the store is sealed under master key version v{}, which {} does not "
                    "have: every process sharing a store must use the same master key (copy "
                    "master.key from a node of this cluster, or set CERTGATE_MASTER_KEY to its "
                    "keys)",
                    version, key_source));
  }
  if (opened.error().code == ErrorCode::kUnsealFailed) {
    return MakeError(
        ErrorCode::kMasterKeyMismatch,
        fmt::format("{} does not open the store's master key check (sealed under version "
                    "v{}): it is not the master key this store was set up with. Every process "
                    "sharing a store must use the same master key: copy master.key from a node "
                    "of this cluster, or set CERTGATE_MASTER_KEY to its keys",
                    key_source, version));
  }
  return std::move(opened).error();
}

// A store from before the check holds sealed keys: the first check is sealed
// only by a vault that opens one of them.
Result<void> OpensAStoredKey(store::SealedKeyStore& sealed, seal::KeyVault& vault,
                             std::string_view key_source) {
  CG_ASSIGN_OR_RETURN(auto first, sealed.ListSealedKeys(std::nullopt, 1));
  if (first.empty()) return {};
  if (auto opened = vault.Unseal(first.front().key.blob, first.front().record_id); !opened) {
    return MakeError(ErrorCode::kMasterKeyMismatch,
                     fmt::format("{} does not open the keys this store holds ({} is sealed under "
                                 "master key version v{}): use the master key this store was "
                                 "set up with",
                                 key_source, first.front().record_id,
                                 first.front().key.key_version));
  }
  return {};
}

}  // namespace

Result<void> VerifyMasterKey(store::SettingStore& settings, store::SealedKeyStore& sealed,
                             seal::KeyVault& vault, std::string_view key_source) {
  for (int round = 0; round < kRounds; ++round) {
    CG_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                        settings.GetSetting(kMasterKeyCheckSetting));
    if (stored) {
      CG_RETURN_IF_ERROR(OpenCheck(*stored, vault, key_source));
      return {};
    }
    CG_RETURN_IF_ERROR(OpensAStoredKey(sealed, vault, key_source));
    CG_ASSIGN_OR_RETURN(std::string mine, SealedCheck(vault));
    CG_ASSIGN_OR_RETURN(bool set,
                        settings.CompareAndSetSetting(kMasterKeyCheckSetting, std::nullopt, mine));
    if (set) return {};
    // Another process stored one first: open that one.
  }
  return MakeError(ErrorCode::kStoreConflict,
                   fmt::format("the store's setting {} kept changing while certgate checked the "
                               "master key; start again",
                               kMasterKeyCheckSetting));
}

Result<void> ResealMasterKeyCheck(store::SettingStore& settings, seal::KeyVault& vault) {
  for (int round = 0; round < kRounds; ++round) {
    CG_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                        settings.GetSetting(kMasterKeyCheckSetting));
    if (stored) {
      CG_ASSIGN_OR_RETURN(Opened opened, OpenCheck(*stored, vault, "the master key"));
      if (opened.version == vault.current_version()) return {};
    }
    CG_ASSIGN_OR_RETURN(std::string mine, SealedCheck(vault));
    CG_ASSIGN_OR_RETURN(bool set,
                        settings.CompareAndSetSetting(kMasterKeyCheckSetting, stored, mine));
    if (set) return {};
  }
  return MakeError(ErrorCode::kStoreConflict,
                   fmt::format("the store's setting {} kept changing while it was re-sealed; "
                               "run rotate again",
                               kMasterKeyCheckSetting));
}

}  // namespace certgate::app
