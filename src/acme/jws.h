// JSON Web Signatures as ACME uses them (RFC 7515 flattened JSON
// serialization, RFC 8555 §6.2): base64url, the account key as a JWK, its
// RFC 7638 thumbprint, and signing with the account key (ES256 for ECDSA P-256,
// ES384 for P-384, RS256 for RSA) or, for external account binding, with an
// HMAC key (HS256). Pure functions over OpenSSL; callable from any thread.
// Nothing here logs; the JWS strings carry signatures, never key material.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>

#include "core/result.h"

namespace certgate::acme {

// Base64url without padding (RFC 7515 §2).
std::string Base64UrlEncode(std::span<const uint8_t> bytes);
std::string Base64UrlEncode(std::string_view bytes);
// nullopt for anything that is not unpadded base64url.
std::optional<std::vector<uint8_t>> Base64UrlDecode(std::string_view text);

// The JWS "alg" for an account key: "ES256" (P-256), "ES384" (P-384) or
// "RS256" (RSA). Error kKeyUnsupportedType for other keys.
Result<std::string> JwsAlgorithm(EVP_PKEY* key);

// The public key as a JWK with only its required members in lexicographic
// order and no whitespace, which is both a valid JWK for a protected header
// and the RFC 7638 thumbprint input: {"crv":..,"kty":"EC","x":..,"y":..} or
// {"e":..,"kty":"RSA","n":..}.
Result<std::string> JwkJson(EVP_PKEY* key);
// base64url(SHA-256(JwkJson(key))), RFC 7638.
Result<std::string> JwkThumbprint(EVP_PKEY* key);

// An ECDSA signature in DER (what OpenSSL produces) as the JWS form: r || s,
// each left-padded to coordinate_size bytes (32 for P-256).
Result<std::vector<uint8_t>> EcdsaDerToRaw(std::span<const uint8_t> der, size_t coordinate_size);

// The protected header's variable members. Exactly one of kid and jwk is
// used: kid (the account URL) when non-empty, else the key's JWK.
struct JwsHeader {
  std::string url;
  std::string nonce;
  std::string kid;
};

// A flattened JWS {"protected","payload","signature"} signed by key.
// payload is the JSON text to sign, or "" for POST-as-GET.
Result<std::string> SignJws(EVP_PKEY* key, const JwsHeader& header, std::string_view payload);

// The externalAccountBinding value for newAccount (RFC 8555 §7.3.4): a JWS
// over the account key's JWK, protected {"alg":"HS256","kid":eab_kid,"url":url},
// MACed with the CA-issued key. hmac_key_b64url is the key as the CA gave it
// (base64url). Error kConfigInvalid for an undecodable or empty key.
Result<std::string> ExternalAccountBindingJws(EVP_PKEY* account_key, std::string_view eab_kid,
                                              std::string_view hmac_key_b64url,
                                              std::string_view url);

}  // namespace certgate::acme
