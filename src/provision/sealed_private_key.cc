#include "provision/sealed_private_key.h"

#include "pki/private_key.h"

namespace certgate::provision {

Result<store::SealedKey> SealPrivateKey(seal::KeyVault& vault, EVP_PKEY* key,
                                        std::string_view record_id) {
  CG_ASSIGN_OR_RETURN(SecretBytes der, pki::EncodePrivateKeyDer(key));
  CG_ASSIGN_OR_RETURN(auto blob, vault.Seal(der.span(), record_id));
  CG_ASSIGN_OR_RETURN(uint32_t version, seal::KeyVault::BlobKeyVersion(blob));
  return store::SealedKey{version, std::move(blob)};
}

Result<pki::EvpPkeyPtr> UnsealPrivateKey(seal::KeyVault& vault, const store::SealedKey& sealed,
                                         std::string_view record_id) {
  CG_ASSIGN_OR_RETURN(SecretBytes der, vault.Unseal(sealed.blob, record_id));
  return pki::DecodePrivateKeyDer(der.span());
}

}  // namespace certgate::provision
