// Parsing a user's private key (private_key_pem) strictly, and the key's
// stored form. Pure functions over OpenSSL; callable from any thread.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/secret_bytes.h"
#include "pki/ossl_ptr.h"

namespace certgate::pki {

inline constexpr size_t kMaxPrivateKeyBytes = 32 * 1024;
// RSA limits for uploaded keys and certificates. Each handshake makes the
// server sign with the key, and an RSA signature's cost grows with about the
// cube of the modulus: RSA-8192 costs dozens of times as much as RSA-2048, and
// RSA-16384 ~200 ms of CPU per handshake, so one tenant's oversized key slows
// every name on a shared edge. 4096 is also the most ngrok itself generates.
inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 4096;
// The public exponent must be odd and 65537 <= e < 2^256 (FIPS 186-5 §A.1.1):
// small exponents such as 3 invite signature forgeries against lax verifiers
// (Bleichenbacher 2006) and plaintext recovery from bad padding, and a huge
// one makes every blinded signature and every client's verification slow.
inline constexpr unsigned long kMinRsaPublicExponent = 65537;
inline constexpr int kMaxRsaPublicExponentBits = 256;

enum class KeyType { kRsa, kEcdsa, kEd25519 };
// "rsa", "ecdsa", "ed25519"
std::string_view KeyTypeName(KeyType type);

// Parses private_key_pem. Accepts exactly one key block (an "EC PARAMETERS"
// block before an "EC PRIVATE KEY" block is tolerated, as `openssl ecparam
// -genkey` writes it), surrounded only by whitespace:
//   "RSA PRIVATE KEY" (PKCS#1), "EC PRIVATE KEY" (SEC 1), "PRIVATE KEY" (PKCS#8)
// holding RSA of 2048..4096 bits, ECDSA on P-256/P-384/P-521 (named curve),
// or Ed25519. Refuses, each with its own code and a message saying what to
// do: empty (kKeyEmpty), over 32 KiB (kKeyTooLarge), not PEM (kKeyNotPem),
// a certificate, public key or several keys (kKeyWrongBlock), legacy
// "Proc-Type: 4,ENCRYPTED" or "ENCRYPTED PRIVATE KEY" (kKeyEncrypted), other
// PEM headers (kPemHeaders), DSA / RSA-PSS / X25519 / Ed448 / others
// (kKeyUnsupportedType), other curves such as secp256k1 or explicit
// parameters (kKeyUnsupportedCurve), RSA under 2048 or over 4096 bits
// (kKeyRsaSize), an RSA public exponent that is even, under 65537 or 2^256
// and over (kKeyRsaExponent), undecodable base64 (kPemMalformed) or DER (kKeyMalformed),
// and keys failing OpenSSL's consistency check (kKeyInvalid).
// Decoded DER is wiped before return.
Result<EvpPkeyPtr> ParsePrivateKey(std::string_view pem);

// The KeyType of a key ParsePrivateKey accepted.
KeyType KeyTypeOf(EVP_PKEY* key);

// Checks a certificate's public key against the RSA limits ParsePrivateKey
// applies to private keys (other key types pass). `what` names the key in
// messages, e.g. "the key of the leaf certificate (CN=app.example.com)".
// Errors: kKeyRsaSize, kKeyRsaExponent.
Result<void> CheckCertificateKeyLimits(X509* cert, std::string_view what);

// Checks that `key` is the private half of `leaf`'s public key.
// Error: kKeyMismatch.
Result<void> CheckKeyMatchesCertificate(EVP_PKEY* key, X509* leaf);

// The stored form of a private key: unencrypted PKCS#8 DER, in SecretBytes.
Result<SecretBytes> EncodePrivateKeyDer(EVP_PKEY* key);
// Reads EncodePrivateKeyDer's output back. Error: kKeyMalformed.
Result<EvpPkeyPtr> DecodePrivateKeyDer(std::span<const uint8_t> der);

}  // namespace certgate::pki
