// What the key harnesses do with private_key_pem: parse it as an upload does,
// then store and read back the accepted key (fuzz build only).
#pragma once

#include <string_view>

#include "fuzz_util.h"
#include "pki/private_key.h"

namespace certgate::fuzz {

inline void ExercisePrivateKey(std::string_view pem) {
  Result<pki::EvpPkeyPtr> key = pki::ParsePrivateKey(pem);
  CheckOpensslQueueEmpty("ParsePrivateKey");
  if (!key.ok()) {
    CheckError(key.error());
    return;
  }
  (void)pki::KeyTypeName(pki::KeyTypeOf(key->get()));
  Result<SecretBytes> der = pki::EncodePrivateKeyDer(key->get());
  FUZZ_CHECK(der.ok(), der.ok() ? "" : der.error().message);
  Result<pki::EvpPkeyPtr> back = pki::DecodePrivateKeyDer(der->span());
  FUZZ_CHECK(back.ok(), back.ok() ? "" : back.error().message);
  FUZZ_CHECK(EVP_PKEY_eq(key->get(), back->get()) == 1, "the stored key reads back different");
  ERR_clear_error();  // EVP_PKEY_eq may leave a note; it is ours, not the parser's
  CheckOpensslQueueEmpty("EncodePrivateKeyDer");
}

}  // namespace certgate::fuzz
