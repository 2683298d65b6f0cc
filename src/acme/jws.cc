#include "acme/jws.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/secret_bytes.h"
#include "pki/openssl_error.h"
#include "pki/ossl_ptr.h"

namespace certgate::acme {
namespace {

namespace json = boost::json;
using pki::BignumPtr;
using pki::EvpMdCtxPtr;
using pki::OpensslError;
using pki::ScopedOpensslErrorDrain;

using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, pki::OsslFree<&ECDSA_SIG_free>>;

// What signing with a key looks like.
struct KeyProfile {
  enum class Kind { kEc, kRsa } kind;
  std::string alg;
  std::string crv;          // EC only: JWK curve name
  size_t coordinate_size;   // EC only
  const EVP_MD* digest;
};

Result<KeyProfile> ProfileOf(EVP_PKEY* key) {
  if (key == nullptr) return MakeError(ErrorCode::kKeyUnsupportedType, "no account key given");
  if (EVP_PKEY_is_a(key, "RSA")) {
    return KeyProfile{KeyProfile::Kind::kRsa, "RS256", "", 0, EVP_sha256()};
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1) {
      pki::ClearOpensslErrors();
      return MakeError(ErrorCode::kKeyUnsupportedCurve,
                       "the ACME account key's curve is not a named curve");
    }
    std::string_view name(group, len);
    if (name == "prime256v1" || name == "P-256") {
      return KeyProfile{KeyProfile::Kind::kEc, "ES256", "P-256", 32, EVP_sha256()};
    }
    if (name == "secp384r1" || name == "P-384") {
      return KeyProfile{KeyProfile::Kind::kEc, "ES384", "P-384", 48, EVP_sha384()};
    }
    return MakeError(ErrorCode::kKeyUnsupportedCurve,
                     fmt::format("the ACME account key's curve {} is not supported (use P-256)",
                                 name));
  }
  return MakeError(ErrorCode::kKeyUnsupportedType,
                   "the ACME account key must be ECDSA (P-256 or P-384) or RSA");
}

Result<std::vector<uint8_t>> BignumParam(EVP_PKEY* key, const char* name, size_t pad_to) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    return OpensslError(ErrorCode::kKeyInvalid,
                        fmt::format("reading the account key's public parameter {}", name));
  }
  BignumPtr bn(raw);
  size_t natural = static_cast<size_t>(BN_num_bytes(bn.get()));
  size_t size = pad_to == 0 ? natural : pad_to;
  if (natural > size) {
    return MakeError(ErrorCode::kKeyInvalid, "the account key's public point is out of range");
  }
  std::vector<uint8_t> out(size);
  if (BN_bn2binpad(bn.get(), out.data(), static_cast<int>(size)) < 0) {
    return OpensslError(ErrorCode::kKeyInvalid, "encoding the account key's public parameter");
  }
  return out;
}

Result<std::vector<uint8_t>> Sha256(std::string_view data) {
  std::vector<uint8_t> out(32);
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1) {
    return OpensslError(ErrorCode::kInternal, "SHA-256 failed");
  }
  out.resize(len);
  return out;
}

// Signs signing_input with key as profile says; returns the JWS signature bytes.
Result<std::vector<uint8_t>> Sign(EVP_PKEY* key, const KeyProfile& profile,
                                  std::string_view signing_input) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, profile.digest, nullptr, key) != 1) {
    return OpensslError(ErrorCode::kInternal, "preparing the JWS signature");
  }
  const auto* in = reinterpret_cast<const unsigned char*>(signing_input.data());
  size_t sig_len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &sig_len, in, signing_input.size()) != 1) {
    return OpensslError(ErrorCode::kInternal, "sizing the JWS signature");
  }
  std::vector<uint8_t> sig(sig_len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &sig_len, in, signing_input.size()) != 1) {
    return OpensslError(ErrorCode::kInternal, "signing the JWS");
  }
  sig.resize(sig_len);
  if (profile.kind == KeyProfile::Kind::kEc) return EcdsaDerToRaw(sig, profile.coordinate_size);
  return sig;
}

}  // namespace

std::string Base64UrlEncode(std::span<const uint8_t> bytes) {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), kVariant);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::string Base64UrlEncode(std::string_view bytes) {
  return Base64UrlEncode(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

std::optional<std::vector<uint8_t>> Base64UrlDecode(std::string_view text) {
  std::vector<uint8_t> out(text.size() * 3 / 4 + 3);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

Result<std::string> JwsAlgorithm(EVP_PKEY* key) {
  ScopedOpensslErrorDrain drain;
  CG_ASSIGN_OR_RETURN(auto profile, ProfileOf(key));
  return profile.alg;
}

Result<std::string> JwkJson(EVP_PKEY* key) {
  ScopedOpensslErrorDrain drain;
  CG_ASSIGN_OR_RETURN(auto profile, ProfileOf(key));
  if (profile.kind == KeyProfile::Kind::kRsa) {
    CG_ASSIGN_OR_RETURN(auto n, BignumParam(key, OSSL_PKEY_PARAM_RSA_N, 0));
    CG_ASSIGN_OR_RETURN(auto e, BignumParam(key, OSSL_PKEY_PARAM_RSA_E, 0));
    return fmt::format(R"({{"e":"{}","kty":"RSA","n":"{}"}})", Base64UrlEncode(e),
                       Base64UrlEncode(n));
  }
  CG_ASSIGN_OR_RETURN(auto x, BignumParam(key, OSSL_PKEY_PARAM_EC_PUB_X, profile.coordinate_size));
  CG_ASSIGN_OR_RETURN(auto y, BignumParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, profile.coordinate_size));
  return fmt::format(R"({{"crv":"{}","kty":"EC","x":"{}","y":"{}"}})", profile.crv,
                     Base64UrlEncode(x), Base64UrlEncode(y));
}

Result<std::string> JwkThumbprint(EVP_PKEY* key) {
  CG_ASSIGN_OR_RETURN(auto jwk, JwkJson(key));
  CG_ASSIGN_OR_RETURN(auto digest, Sha256(jwk));
  return Base64UrlEncode(digest);
}

Result<std::vector<uint8_t>> EcdsaDerToRaw(std::span<const uint8_t> der, size_t coordinate_size) {
  ScopedOpensslErrorDrain drain;
  const unsigned char* p = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || p != der.data() + der.size()) {
    return MakeError(ErrorCode::kInternal, "the ECDSA signature is not valid DER");
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::vector<uint8_t> out(2 * coordinate_size);
  int size = static_cast<int>(coordinate_size);
  if (BN_bn2binpad(r, out.data(), size) != size ||
      BN_bn2binpad(s, out.data() + coordinate_size, size) != size) {
    return MakeError(ErrorCode::kInternal, "the ECDSA signature does not fit the curve size");
  }
  return out;
}

Result<std::string> SignJws(EVP_PKEY* key, const JwsHeader& header, std::string_view payload) {
  ScopedOpensslErrorDrain drain;
  CG_ASSIGN_OR_RETURN(auto profile, ProfileOf(key));
  json::object prot;
  prot["alg"] = profile.alg;
  if (header.kid.empty()) {
    CG_ASSIGN_OR_RETURN(auto jwk, JwkJson(key));
    prot["jwk"] = json::parse(jwk);
  } else {
    prot["kid"] = header.kid;
  }
  prot["nonce"] = header.nonce;
  prot["url"] = header.url;
  std::string protected_b64 = Base64UrlEncode(json::serialize(prot));
  std::string payload_b64 = Base64UrlEncode(payload);
  CG_ASSIGN_OR_RETURN(auto sig, Sign(key, profile, protected_b64 + "." + payload_b64));
  json::object jws;
  jws["protected"] = protected_b64;
  jws["payload"] = payload_b64;
  jws["signature"] = Base64UrlEncode(sig);
  return json::serialize(jws);
}

Result<std::string> ExternalAccountBindingJws(EVP_PKEY* account_key, std::string_view eab_kid,
                                              std::string_view hmac_key_b64url,
                                              std::string_view url) {
  ScopedOpensslErrorDrain drain;
  auto decoded = Base64UrlDecode(hmac_key_b64url);
  if (!decoded || decoded->empty()) {
    return MakeError(ErrorCode::kConfigInvalid,
                     "the external account binding HMAC key is not base64url");
  }
  SecretBytes hmac_key = SecretBytes::CopyOf(*decoded);
  Wipe(decoded->data(), decoded->size());
  CG_ASSIGN_OR_RETURN(auto jwk, JwkJson(account_key));
  json::object prot;
  prot["alg"] = "HS256";
  prot["kid"] = eab_kid;
  prot["url"] = url;
  std::string signing_input = Base64UrlEncode(json::serialize(prot)) + "." + Base64UrlEncode(jwk);
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t mac_len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, hmac_key.data(), hmac_key.size(),
                reinterpret_cast<const unsigned char*>(signing_input.data()),
                signing_input.size(), mac, sizeof mac, &mac_len) == nullptr) {
    return OpensslError(ErrorCode::kInternal, "computing the external account binding MAC");
  }
  auto dot = signing_input.find('.');
  json::object jws;
  jws["protected"] = signing_input.substr(0, dot);
  jws["payload"] = signing_input.substr(dot + 1);
  jws["signature"] = Base64UrlEncode(std::span<const uint8_t>(mac, mac_len));
  return json::serialize(jws);
}

}  // namespace certgate::acme
