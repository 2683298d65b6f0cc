// The error catalogue: every failure certgate reports has one ErrorCode, a
// stable number that the API shows as "ERR_CERTGATE_<n>" and that
// docs/errors.md documents. A code for a condition ngrok has its own code for
// is shown as ngrok's "ERR_NGROK_<m>" instead (ErrorInfo::ngrok_code), so
// that ngrok's clients recognise it. Each code belongs to one Kind, which
// decides the HTTP status. Pure data; safe from any thread.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace certgate {

// What sort of failure: decides the HTTP status and whether a retry can help.
enum class Kind {
  kInvalidArgument,   // 400: the caller sent something wrong
  kUnauthenticated,   // 403, as ngrok answers a missing or wrong API key
  kPermissionDenied,  // 403
  kNotFound,          // 404
  kMethodNotAllowed,  // 405
  kPayloadTooLarge,   // 413
  kHeaderTooLarge,    // 431
  kUnavailable,       // 503: try again later
  kInternal,          // 500: a bug or an environment failure
};

// The catalogue. Numbers are stable: never reuse or renumber one.
enum class ErrorCode : int {
  // 100s: API conventions and the server itself.
  kInternal = 100,
  kNotFound = 101,
  kRouteNotFound = 102,
  kMethodNotAllowed = 103,
  kAuthMissing = 104,         // ERR_NGROK_200
  kAuthInvalid = 105,         // ERR_NGROK_203
  kVersionUnsupported = 106,  // ERR_NGROK_217
  kBodyTooLarge = 107,
  kJsonMalformed = 108,
  kJsonWrongType = 109,
  kJsonUnknownField = 110,
  kFieldRequired = 111,
  kFieldTooLong = 112,
  kInvalidPaging = 113,
  kIdMismatch = 114,
  kPlanRequired = 115,
  kHeaderTooLarge = 116,
  kShuttingDown = 117,
  kBadRequest = 118,
  kConfigInvalid = 119,
  kIo = 120,
  kCertificateManaged = 121,  // ERR_NGROK_1966
  kFilterInvalid = 122,
  // Shown as ngrok's codes: the Authorization header, the query, updates.
  kAuthUnparseable = 123,   // ERR_NGROK_201
  kAuthNotAKey = 124,       // ERR_NGROK_202
  kAuthKeyId = 125,         // ERR_NGROK_208
  kQueryUnknown = 126,      // ERR_NGROK_231
  kPageLimitInvalid = 127,  // ERR_NGROK_233
  kUpdateEmpty = 128,       // ERR_NGROK_422
  // Internal: a change-feed reader fell behind the log's retention.
  kChangesExpired = 129,
  kFieldNul = 130,  // a text field holds U+0000, which no store keeps alike

  // 200s: certificate bundles (certificate_pem).
  kBundleEmpty = 200,
  kBundleNotPem = 201,
  kBundleWrongBlock = 202,
  kPemMalformed = 203,
  kCertNotX509 = 204,
  kChainMisordered = 205,
  kChainGap = 206,
  kChainUnrelated = 207,
  kBundleTooLarge = 208,
  kBundleTooManyCerts = 209,
  kPemHeaders = 210,
  kLeafExpired = 211,
  kLeafNotYetValid = 212,
  kLeafNotForServer = 213,
  kChainLoop = 214,

  // 250s: private keys (private_key_pem).
  kKeyEmpty = 250,
  kKeyNotPem = 251,
  kKeyWrongBlock = 252,
  kKeyEncrypted = 253,
  kKeyUnsupportedType = 254,
  kKeyUnsupportedCurve = 255,
  kKeyRsaSize = 256,
  kKeyMalformed = 257,
  kKeyMismatch = 258,
  kKeyTooLarge = 259,
  kKeyInvalid = 260,
  kKeyRsaExponent = 261,

  // 270s: certificates in use.
  kCertificateInUse = 270,

  // 300s: sealing and the master key.
  kSealFailed = 300,
  kUnsealFailed = 301,
  kMasterKeyUnknownVersion = 302,
  kMasterKeyInvalid = 303,
  kMasterKeyPermissions = 304,
  kMasterKeyMismatch = 305,  // another master key than the store's other users hold

  // 400s: the store.
  kStoreIo = 400,
  kStoreConflict = 401,
  kStoreSchemaTooNew = 402,
  kStoreUrlInvalid = 403,
  kStoreUnavailable = 404,  // the database cannot be reached: try again later

  // 500s: reserved domains.
  kDomainInvalid = 500,
  kDomainWildcard = 501,
  kDomainPublicSuffix = 502,
  kDomainTaken = 503,
  kDomainCertificateAndPolicy = 504,  // ERR_NGROK_434
  kDomainNotCovered = 505,
  kDomainUnderBaseDomain = 506,     // ERR_NGROK_439: a policy there
  kDomainCertificateUnknown = 507,  // ERR_NGROK_1965
  kDomainPolicyInvalid = 508,       // private_key_type
  kDomainInUse = 509,               // ERR_NGROK_446
  kDomainManaged = 510,             // ERR_NGROK_436
  // Names belong to one account (shown as ngrok's codes where ngrok has one).
  kDomainReservedHere = 511,        // ERR_NGROK_413
  kDomainReservedElsewhere = 512,   // ERR_NGROK_414
  kDomainWildcardOverOthers = 513,  // ERR_NGROK_417
  kDomainOverOthers = 514,
  kDomainCertificateUnderBaseDomain = 515,  // ERR_NGROK_440
  kDomainPolicyAuthority = 516,             // ERR_NGROK_435
  kDomainResolvesToInvalid = 517,

  // 550s: endpoints and traffic policies.
  kEndpointUrlInvalid = 550,
  kEndpointUpstreamInvalid = 551,
  kEndpointHostNotReserved = 552,
  kEndpointTaken = 553,
  kPolicyInvalid = 554,
  kPolicyUnknownAction = 555,
  kPolicyUnknownField = 556,
  kEndpointHostReservedElsewhere = 557,  // ERR_NGROK_320
  kEndpointTypeUnsupported = 558,        // type other than "cloud"
  kEndpointBindingUnsupported = 559,     // bindings other than ["public"]
  kEndpointPoolingUnsupported = 560,     // pooling_enabled true
  // 600s: ACME (talking to the certificate authority).
  kAcmeUnreachable = 600,
  kAcmeProblem = 601,
  kAcmeRateLimited = 602,
  kAcmeBadResponse = 603,
  kAcmeOrderFailed = 604,
  kAcmeTimedOut = 605,
  // 650s: DNS (the records users must create, and the responder).
  kDnsUnreachable = 650,
  kDnsRecordMissing = 651,
  kDnsServerFailure = 652,
  kDnsMalformed = 653,
};

struct ErrorInfo {
  ErrorCode code;
  Kind kind;
  std::string_view summary;  // one line for docs/errors.md and logs
  // ngrok's number for the same condition (shown as "ERR_NGROK_<n>"), or 0.
  int ngrok_code = 0;
  // ngrok's code when it is a word rather than a number
  // ("invalid_cel_expression"), shown as is; empty when there is none.
  std::string_view ngrok_name = {};
};

// Every code in the catalogue, in numeric order.
std::span<const ErrorInfo> AllErrors();
const ErrorInfo& InfoOf(ErrorCode code);
inline Kind KindOf(ErrorCode code) { return InfoOf(code).kind; }
// "ERR_CERTGATE_205"; "ERR_NGROK_414" for a code with an ngrok_code; the
// ngrok_name ("invalid_cel_expression") for a code with one.
std::string ErrorCodeName(ErrorCode code);

// A failure: a code from the catalogue and one clear sentence for a human.
// The message must never contain secret material.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // For kUnavailable failures: how long the other side asked us to wait
  // before trying again (an HTTP Retry-After), when it said.
  std::optional<std::chrono::seconds> retry_after;
  // The input at fault, as the API names it: a JSON field of the request
  // ("certificate_pem", "certificate_management_policy.authority") or a
  // query parameter ("limit"); empty when no one input is. The API shows it
  // as details.field.
  std::string field;

  Kind kind() const { return KindOf(code); }
};

}  // namespace certgate
