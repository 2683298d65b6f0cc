#include "core/error.h"

#include <algorithm>
#include <array>
#include <cstdlib>

#include <fmt/format.h>

namespace certgate {
namespace {

using E = ErrorCode;
using K = Kind;

constexpr std::array kErrors = {
    ErrorInfo{E::kInternal, K::kInternal, "internal error; the server log has the details"},
    ErrorInfo{E::kNotFound, K::kNotFound, "no such resource in this account"},
    ErrorInfo{E::kRouteNotFound, K::kNotFound, "no such API path"},
    ErrorInfo{E::kMethodNotAllowed, K::kMethodNotAllowed,
              "the path exists but not for this method"},
    ErrorInfo{E::kAuthMissing, K::kUnauthenticated, "no Authorization header", 200},
    ErrorInfo{E::kAuthInvalid, K::kUnauthenticated,
              "the credential looks like an API key but is not one (revoked, or never issued)",
              203},
    ErrorInfo{E::kVersionUnsupported, K::kInvalidArgument, "unsupported Ngrok-Version header", 217},
    ErrorInfo{E::kBodyTooLarge, K::kPayloadTooLarge, "request body over 1 MiB"},
    ErrorInfo{E::kJsonMalformed, K::kInvalidArgument, "request body is not valid JSON"},
    ErrorInfo{E::kJsonWrongType, K::kInvalidArgument, "a field has the wrong JSON type"},
    ErrorInfo{E::kJsonUnknownField, K::kInvalidArgument, "a field is not part of the resource"},
    ErrorInfo{E::kFieldRequired, K::kInvalidArgument, "a required field is missing"},
    ErrorInfo{E::kFieldTooLong, K::kInvalidArgument, "a field is longer than its limit"},
    ErrorInfo{E::kInvalidPaging, K::kInvalidArgument,
              "before_id is not an id of the listed resource"},
    ErrorInfo{E::kIdMismatch, K::kInvalidArgument, "the body's id differs from the path's id"},
    ErrorInfo{E::kPlanRequired, K::kPermissionDenied, "the account's plan does not include this"},
    ErrorInfo{E::kHeaderTooLarge, K::kHeaderTooLarge, "request headers over the limit"},
    ErrorInfo{E::kShuttingDown, K::kUnavailable, "the server is shutting down"},
    ErrorInfo{E::kBadRequest, K::kInvalidArgument, "the HTTP request is malformed"},
    ErrorInfo{E::kConfigInvalid, K::kInvalidArgument, "a flag or config value is not valid"},
    ErrorInfo{E::kIo, K::kInternal, "a file or network operation failed"},
    ErrorInfo{E::kCertificateManaged, K::kInvalidArgument,
              "the certificate is managed automatically and cannot be deleted directly", 1966},
    ErrorInfo{E::kFilterInvalid, K::kInvalidArgument,
              "the filter query parameter does not parse or names an unknown field", 0,
              "invalid_cel_expression"},
    ErrorInfo{E::kAuthUnparseable, K::kUnauthenticated,
              "the Authorization header is not 'Bearer <api key>'", 201},
    ErrorInfo{E::kAuthNotAKey, K::kUnauthenticated,
              "the credential does not have the shape of an API key", 202},
    ErrorInfo{E::kAuthKeyId, K::kUnauthenticated,
              "the credential is an API key's id (ak_...), not the key itself", 208},
    ErrorInfo{E::kQueryUnknown, K::kInvalidArgument, "a query parameter the request does not take",
              231},
    ErrorInfo{E::kPageLimitInvalid, K::kInvalidArgument,
              "limit is not a whole number from 1 to 100", 233},
    ErrorInfo{E::kUpdateEmpty, K::kInvalidArgument, "an update (PATCH) gives no field to change",
              422},
    ErrorInfo{E::kChangesExpired, K::kUnavailable,
              "the change feed no longer holds the changes asked for: reload everything"},
    ErrorInfo{E::kFieldNul, K::kInvalidArgument, "a text field holds a NUL character"},

    ErrorInfo{E::kBundleEmpty, K::kInvalidArgument, "certificate_pem is empty"},
    ErrorInfo{E::kBundleNotPem, K::kInvalidArgument, "certificate_pem is not PEM text"},
    ErrorInfo{E::kBundleWrongBlock, K::kInvalidArgument,
              "certificate_pem holds a PEM block that is not a CERTIFICATE"},
    ErrorInfo{E::kPemMalformed, K::kInvalidArgument,
              "a PEM block is truncated or its base64 is corrupt"},
    ErrorInfo{E::kCertNotX509, K::kInvalidArgument, "a CERTIFICATE block is not X.509"},
    ErrorInfo{E::kChainMisordered, K::kInvalidArgument,
              "the chain is out of order; the message gives the working order"},
    ErrorInfo{E::kChainGap, K::kInvalidArgument, "the chain misses an intermediate certificate"},
    ErrorInfo{E::kChainUnrelated, K::kInvalidArgument,
              "the bundle holds a certificate that is not part of the chain, or the same "
              "certificate or CA twice"},
    ErrorInfo{E::kBundleTooLarge, K::kInvalidArgument, "certificate_pem over 64 KiB"},
    ErrorInfo{E::kBundleTooManyCerts, K::kInvalidArgument, "more than 10 certificates"},
    ErrorInfo{E::kPemHeaders, K::kInvalidArgument, "a PEM block carries headers"},
    ErrorInfo{E::kLeafExpired, K::kInvalidArgument, "the leaf certificate has expired"},
    ErrorInfo{E::kLeafNotYetValid, K::kInvalidArgument, "the leaf certificate is not valid yet"},
    ErrorInfo{E::kLeafNotForServer, K::kInvalidArgument,
              "the leaf certificate may not be used by a TLS server"},
    ErrorInfo{E::kChainLoop, K::kInvalidArgument,
              "the chain loops: a certificate is issued by one that it issues"},

    ErrorInfo{E::kKeyEmpty, K::kInvalidArgument, "private_key_pem is empty"},
    ErrorInfo{E::kKeyNotPem, K::kInvalidArgument, "private_key_pem is not PEM text"},
    ErrorInfo{E::kKeyWrongBlock, K::kInvalidArgument,
              "private_key_pem is not exactly one private key block"},
    ErrorInfo{E::kKeyEncrypted, K::kInvalidArgument, "the private key is encrypted"},
    ErrorInfo{E::kKeyUnsupportedType, K::kInvalidArgument, "the key is not RSA, ECDSA or Ed25519"},
    ErrorInfo{E::kKeyUnsupportedCurve, K::kInvalidArgument,
              "the ECDSA key is not on P-256, P-384 or P-521"},
    ErrorInfo{E::kKeyRsaSize, K::kInvalidArgument,
              "the RSA key (or the leaf certificate's) is under 2048 or over 4096 bits"},
    ErrorInfo{E::kKeyMalformed, K::kInvalidArgument, "the private key's DER cannot be parsed"},
    ErrorInfo{E::kKeyMismatch, K::kInvalidArgument,
              "the private key does not match the leaf certificate"},
    ErrorInfo{E::kKeyTooLarge, K::kInvalidArgument, "private_key_pem over 32 KiB"},
    ErrorInfo{E::kKeyInvalid, K::kInvalidArgument, "the private key fails its consistency check"},
    ErrorInfo{E::kKeyRsaExponent, K::kInvalidArgument,
              "the RSA public exponent is even, under 65537 or not under 2^256"},

    ErrorInfo{E::kCertificateInUse, K::kInvalidArgument,
              "the certificate is attached to a domain and cannot be deleted"},

    ErrorInfo{E::kSealFailed, K::kInternal, "sealing key material failed"},
    ErrorInfo{E::kUnsealFailed, K::kInternal,
              "a sealed key does not open (wrong master key or moved record)"},
    ErrorInfo{E::kMasterKeyUnknownVersion, K::kInternal,
              "a sealed key names a master key version that is not loaded"},
    ErrorInfo{E::kMasterKeyInvalid, K::kInternal, "the master key file or variable is malformed"},
    ErrorInfo{E::kMasterKeyPermissions, K::kInternal, "the master key file is readable by others"},
    ErrorInfo{E::kMasterKeyMismatch, K::kInternal,
              "this master key is not the one the store's other users hold"},

    ErrorInfo{E::kStoreIo, K::kInternal, "the store failed to read or write"},
    ErrorInfo{E::kStoreConflict, K::kInvalidArgument, "a record with that identity exists"},
    ErrorInfo{E::kStoreSchemaTooNew, K::kInternal, "the store was migrated by a newer certgate"},
    ErrorInfo{E::kStoreUrlInvalid, K::kInvalidArgument, "the --store URL is not understood"},
    ErrorInfo{E::kStoreUnavailable, K::kUnavailable,
              "the database cannot be reached; try again shortly"},

    ErrorInfo{E::kDomainInvalid, K::kInvalidArgument, "the domain is not a valid DNS name"},
    ErrorInfo{E::kDomainWildcard, K::kInvalidArgument, "'*' may only be the whole leftmost label"},
    ErrorInfo{E::kDomainPublicSuffix, K::kInvalidArgument,
              "the domain is a public suffix, or a wildcard directly under one"},
    ErrorInfo{E::kDomainTaken, K::kInvalidArgument, "the domain is already reserved"},
    ErrorInfo{E::kDomainCertificateAndPolicy, K::kInvalidArgument,
              "certificate_id and certificate_management_policy are mutually exclusive", 434},
    ErrorInfo{E::kDomainNotCovered, K::kInvalidArgument,
              "the certificate does not cover the domain"},
    ErrorInfo{E::kDomainUnderBaseDomain, K::kInvalidArgument,
              "subdomains of the service's base domain take no certificate management policy", 439},
    ErrorInfo{E::kDomainCertificateUnknown, K::kInvalidArgument,
              "certificate_id names no certificate of this account", 1965},
    ErrorInfo{E::kDomainPolicyInvalid, K::kInvalidArgument,
              "certificate_management_policy.private_key_type is not ecdsa or rsa"},
    ErrorInfo{E::kDomainInUse, K::kInvalidArgument,
              "the domain is used by endpoints and cannot be deleted", 446},
    ErrorInfo{E::kDomainManaged, K::kInvalidArgument,
              "the domain's certificate is managed by its policy and cannot be detached", 436},
    ErrorInfo{E::kDomainReservedHere, K::kInvalidArgument,
              "the domain is already reserved by this account", 413},
    ErrorInfo{E::kDomainReservedElsewhere, K::kInvalidArgument,
              "the domain is reserved by another account, or lies under one of its domains", 414},
    ErrorInfo{E::kDomainWildcardOverOthers, K::kInvalidArgument,
              "the wildcard domain would cover a domain another account holds", 417},
    ErrorInfo{E::kDomainOverOthers, K::kInvalidArgument,
              "the domain lies above a domain another account holds"},
    ErrorInfo{E::kDomainCertificateUnderBaseDomain, K::kInvalidArgument,
              "subdomains of the service's base domain take no uploaded certificate", 440},
    ErrorInfo{E::kDomainPolicyAuthority, K::kInvalidArgument,
              "certificate_management_policy.authority is not letsencrypt", 435},
    ErrorInfo{E::kDomainResolvesToInvalid, K::kInvalidArgument,
              "a resolves_to value is neither a point of presence nor an IP address"},

    ErrorInfo{E::kEndpointUrlInvalid, K::kInvalidArgument,
              "the endpoint url is not https://host or tls://host:port"},
    ErrorInfo{E::kEndpointUpstreamInvalid, K::kInvalidArgument,
              "the upstream is not a valid http://, https:// or tcp:// URL"},
    ErrorInfo{E::kEndpointHostNotReserved, K::kInvalidArgument,
              "the endpoint's host is not one of the account's reserved domains"},
    ErrorInfo{E::kEndpointTaken, K::kInvalidArgument, "an endpoint with that url exists"},
    ErrorInfo{E::kPolicyInvalid, K::kInvalidArgument, "the traffic policy is not valid"},
    ErrorInfo{E::kPolicyUnknownAction, K::kInvalidArgument,
              "the traffic policy uses an action certgate does not support"},
    ErrorInfo{E::kPolicyUnknownField, K::kInvalidArgument,
              "the traffic policy has a field certgate does not know"},
    ErrorInfo{E::kEndpointHostReservedElsewhere, K::kInvalidArgument,
              "the endpoint's host lies under a domain another account holds", 320},
    ErrorInfo{E::kEndpointTypeUnsupported, K::kInvalidArgument,
              "the endpoint type is not cloud, the only type certgate makes"},
    ErrorInfo{E::kEndpointBindingUnsupported, K::kInvalidArgument,
              "the endpoint bindings are not [\"public\"]: certgate serves public endpoints only"},
    ErrorInfo{E::kEndpointPoolingUnsupported, K::kInvalidArgument,
              "pooling_enabled is true: certgate serves one endpoint per url and does not pool"},

    ErrorInfo{E::kAcmeUnreachable, K::kUnavailable,
              "the ACME certificate authority could not be reached"},
    ErrorInfo{E::kAcmeProblem, K::kUnavailable,
              "the ACME certificate authority refused a request (its problem document says why)"},
    ErrorInfo{E::kAcmeRateLimited, K::kUnavailable,
              "the ACME certificate authority is rate limiting; retry after the time it gave"},
    ErrorInfo{E::kAcmeBadResponse, K::kUnavailable,
              "the ACME certificate authority answered something that is not valid ACME"},
    ErrorInfo{E::kAcmeOrderFailed, K::kInvalidArgument,
              "the certificate authority could not validate the domain"},
    ErrorInfo{E::kAcmeTimedOut, K::kUnavailable, "the ACME order did not complete in time"},

    ErrorInfo{E::kDnsUnreachable, K::kUnavailable, "the DNS resolver did not answer"},
    ErrorInfo{E::kDnsRecordMissing, K::kInvalidArgument,
              "a DNS record the domain needs does not exist or points elsewhere"},
    ErrorInfo{E::kDnsServerFailure, K::kUnavailable, "the DNS resolver reported a failure"},
    ErrorInfo{E::kDnsMalformed, K::kInvalidArgument, "a DNS message could not be parsed"},
};

static_assert(std::is_sorted(kErrors.begin(), kErrors.end(), [](const auto& a, const auto& b) {
  return static_cast<int>(a.code) < static_cast<int>(b.code);
}));

}  // namespace

std::span<const ErrorInfo> AllErrors() { return kErrors; }

const ErrorInfo& InfoOf(ErrorCode code) {
  auto it = std::lower_bound(kErrors.begin(), kErrors.end(), code, [](const ErrorInfo& e, E c) {
    return static_cast<int>(e.code) < static_cast<int>(c);
  });
  if (it == kErrors.end() || it->code != code) std::abort();  // every enumerator is listed
  return *it;
}

std::string ErrorCodeName(ErrorCode code) {
  const ErrorInfo& info = InfoOf(code);
  if (!info.ngrok_name.empty()) return std::string(info.ngrok_name);
  if (int ngrok = info.ngrok_code; ngrok != 0) return fmt::format("ERR_NGROK_{}", ngrok);
  return fmt::format("ERR_CERTGATE_{}", static_cast<int>(code));
}

}  // namespace certgate
