// Private keys as the store keeps them: DER sealed by the KeyVault for one
// record id (the id is the associated data, so a blob cannot be moved to
// another record). Thread-safe, as the vault is.
#pragma once

#include <string_view>

#include <openssl/evp.h>

#include "core/result.h"
#include "pki/ossl_ptr.h"
#include "seal/key_vault.h"
#include "store/records.h"

namespace certgate::provision {

Result<store::SealedKey> SealPrivateKey(seal::KeyVault& vault, EVP_PKEY* key,
                                        std::string_view record_id);
// Errors: the vault's (kUnsealFailed, ...) and the DER decoder's.
Result<pki::EvpPkeyPtr> UnsealPrivateKey(seal::KeyVault& vault, const store::SealedKey& sealed,
                                         std::string_view record_id);

}  // namespace certgate::provision
