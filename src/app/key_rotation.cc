#include "app/key_rotation.h"

#include <fmt/format.h>

#include "app/master_key_check.h"
#include "edge/ticket_keys.h"

namespace certgate::app {
namespace {

constexpr int kBatch = 500;
constexpr int kMaxPasses = 3;

}  // namespace

Result<RotationReport> ResealAll(store::SealedKeyStore& store, store::SettingStore& settings,
                                 seal::KeyVault& vault, const RotationProgress& progress) {
  RotationReport report;
  report.version = vault.current_version();
  int64_t examined = 0;
  for (int pass = 0; pass < kMaxPasses; ++pass) {
    std::optional<std::string> after;
    for (;;) {
      CG_ASSIGN_OR_RETURN(auto batch, store.ListSealedKeys(after, kBatch));
      for (const auto& ref : batch) {
        ++examined;
        if (ref.key.key_version == report.version) continue;
        CG_ASSIGN_OR_RETURN(SecretBytes plain, vault.Unseal(ref.key.blob, ref.record_id));
        CG_ASSIGN_OR_RETURN(auto blob, vault.Seal(plain.span(), ref.record_id));
        CG_ASSIGN_OR_RETURN(uint32_t version, seal::KeyVault::BlobKeyVersion(blob));
        CG_ASSIGN_OR_RETURN(bool swapped,
                            store.ReplaceSealedKey(ref.record_id, ref.key,
                                                   store::SealedKey{version, std::move(blob)}));
        if (swapped) ++report.resealed;
        if (progress && report.resealed % 100 == 0) progress(examined, report.resealed);
      }
      if (static_cast<int>(batch.size()) < kBatch) break;
      after = batch.back().record_id;
    }
    CG_ASSIGN_OR_RETURN(report.remaining_old, store.CountSealedKeysNotAtVersion(report.version));
    if (report.remaining_old == 0) break;
  }
  if (progress) progress(examined, report.resealed);
  CG_RETURN_IF_ERROR(ResealMasterKeyCheck(settings, vault));
  CG_RETURN_IF_ERROR(edge::ResealTicketKeys(settings, vault));
  return report;
}

Result<RotationReport> RotateMasterKey(store::SealedKeyStore& store,
                                       store::SettingStore& settings, seal::KeyVault& vault,
                                       const seal::MasterKeySource& source,
                                       const RotationProgress& progress) {
  if (source.env_value) {
    CG_RETURN_IF_ERROR(vault.Reload());
    const uint32_t current = vault.current_version();
    CG_ASSIGN_OR_RETURN(int64_t old, store.CountSealedKeysNotAtVersion(current));
    if (old == 0) {
      return MakeError(
          ErrorCode::kConfigInvalid,
          fmt::format("CERTGATE_MASTER_KEY is set, so rotate cannot add a key itself, and every "
                      "key is already sealed under its newest version v{}; add a new version "
                      "first (CERTGATE_MASTER_KEY='v{}:<new key>,v{}:<current key>', make a key "
                      "with `certgate admin keys generate`), then run rotate again",
                      current, current + 1, current));
    }
    return ResealAll(store, settings, vault, progress);
  }
  CG_ASSIGN_OR_RETURN(seal::MasterKeys keys, seal::LoadMasterKeys(source));
  keys.AddGenerated();
  CG_RETURN_IF_ERROR(seal::WriteMasterKeyFile(source.file, keys));
  CG_RETURN_IF_ERROR(vault.Reload());
  if (vault.current_version() != keys.current_version()) {
    return MakeError(ErrorCode::kMasterKeyInvalid,
                     "the master key file changed while rotating; run rotate again");
  }
  return ResealAll(store, settings, vault, progress);
}

}  // namespace certgate::app
