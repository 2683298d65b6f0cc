// Master key rotation: `certgate admin keys rotate` adds a new master key
// version and re-seals every stored key under it, one record at a time with
// a compare-and-swap, so that a running server keeps reading (old versions
// stay in the key file; its vault reloads the file when it meets a new
// version) and a concurrent change to a record is never overwritten.
#pragma once

#include <cstdint>
#include <functional>

#include "core/result.h"
#include "seal/key_vault.h"
#include "store/sealed_key_store.h"
#include "store/setting_store.h"

namespace certgate::app {

struct RotationReport {
  uint32_t version = 0;        // the version everything is now sealed under
  int64_t resealed = 0;        // records re-sealed by this run
  int64_t remaining_old = 0;   // records still under older versions (raced writes)
};

// Progress: (records examined so far, records re-sealed so far).
using RotationProgress = std::function<void(int64_t, int64_t)>;

// source is where the vault's keys come from. With a key file, a new version
// is generated and written first. With CERTGATE_MASTER_KEY the variable must
// already hold a newer version than some sealed keys (it cannot be
// written); otherwise kConfigInvalid explains how to add one.
// The store's master key check (master_key_check.h) is re-sealed too.
Result<RotationReport> RotateMasterKey(store::SealedKeyStore& store,
                                       store::SettingStore& settings, seal::KeyVault& vault,
                                       const seal::MasterKeySource& source,
                                       const RotationProgress& progress);

// Re-seals every record not under the vault's current version. Used by
// RotateMasterKey; exposed for tests.
Result<RotationReport> ResealAll(store::SealedKeyStore& store, store::SettingStore& settings,
                                 seal::KeyVault& vault, const RotationProgress& progress);

}  // namespace certgate::app
