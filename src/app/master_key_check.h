// The check that every process sharing a store holds the same master key.
// Nodes of a cluster each read the master key from their own file (or
// CERTGATE_MASTER_KEY); one with another key would seal keys the others
// cannot open, and fail to open theirs. So the store keeps a check value:
// a fixed text sealed under the master key (setting kMasterKeyCheckSetting,
// hex). The first process to find none seals and stores one (race-free:
// CompareAndSetSetting); every process opening the store opens it first,
// and refuses to go on if it cannot. Rotation re-seals it (ResealCheck).
#pragma once

#include "core/result.h"
#include "seal/key_vault.h"
#include "store/sealed_key_store.h"
#include "store/setting_store.h"

namespace certgate::app {

inline constexpr char kMasterKeyCheckSetting[] = "master_key_check";

// Opens the store's check value with vault, creating it when absent: then
// only after vault opened a key the store already holds, if it holds any (a
// store from before the check existed must not get one sealed under a wrong
// key). Errors: kMasterKeyMismatch, naming where the key came from
// (key_source, e.g. "the master key file /var/lib/certgate/master.key") and
// what to do; the store's errors.
Result<void> VerifyMasterKey(store::SettingStore& settings, store::SealedKeyStore& sealed,
                             seal::KeyVault& vault, std::string_view key_source);

// Re-seals the check value under the vault's current version if it is under
// an older one (after `admin keys rotate`). Errors: as VerifyMasterKey.
Result<void> ResealMasterKeyCheck(store::SettingStore& settings, seal::KeyVault& vault);

}  // namespace certgate::app
