// The store's record types: plain values that every store role and backend
// shares (see store.h for the contracts all backends keep).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace certgate::store {

enum class Plan { kFree, kPayg };
std::string_view PlanName(Plan plan);  // "free", "payg"
std::optional<Plan> ParsePlan(std::string_view name);

struct Account {
  std::string id;  // acct_...
  std::string name;
  Plan plan = Plan::kFree;
  Time created_at;
};

struct ApiKey {
  std::string id;  // ak_...
  std::string account_id;
  std::string description;
  Time created_at;
};

// A private key sealed by seal::KeyVault, and the master key version that
// sealed it (kept beside the blob so rotation can find old ones).
struct SealedKey {
  uint32_t key_version = 0;
  std::vector<uint8_t> blob;
  bool operator==(const SealedKey&) const = default;
};

struct Certificate {
  std::string id;          // cert_...
  std::string account_id;  // empty for the service's own certificates
  Time created_at;
  std::string description;
  std::string metadata;
  std::string certificate_pem;  // canonical chain, leaf first
  std::optional<Time> issued_at;  // set for automatically issued certificates
  Time not_after;                 // of the leaf, for expiry scans
  // The leaf's summary: what lists filter on without parsing the PEM. Every
  // writer sets it from the leaf. serial_number "" means it is unknown (a
  // record stored before certgate kept it, until the start-up backfill sets
  // it with SetCertificateSummary): then all three are absent to filters.
  std::string subject_common_name;  // "" when the subject has no CN
  std::string serial_number;        // as the API shows it: lower-case hex, no separators
  Time not_before;
  SealedKey private_key;
  // Set for a certificate a terminate-tls action brought: it belongs to that
  // endpoint and is invisible to the account-scoped certificate calls.
  std::string owner_endpoint_id;
};

// A certificate's leaf summary (see Certificate), for SetCertificateSummary.
struct CertificateSummary {
  std::string subject_common_name;
  std::string serial_number;  // never "" for a known summary
  Time not_before;
};

// A certificate whose summary is unknown, for the start-up backfill: what it
// needs to read the leaf.
struct UnsummarizedCertificate {
  std::string id;
  std::string certificate_pem;
};

// What metrics and expiry alerts read of a certificate: no chain, no key.
struct CertificateExpiry {
  std::string id;
  std::string account_id;  // "" for the service's own certificates
  bool issued = false;     // issued automatically (issued_at is set)
  Time not_after;
  std::string subject_common_name;  // "" when unknown or absent
  std::string owner_endpoint_id;    // set for a terminate-tls action's certificate
};

// Fields an update may change; absent means unchanged.
struct CertificatePatch {
  std::optional<std::string> description;
  std::optional<std::string> metadata;
};

// A page of a newest-first list. has_more says a further page exists.
template <class T>
struct Page {
  std::vector<T> items;
  bool has_more = false;
};

// The certificate authority of automatic management: Let's Encrypt only.
// Stored, and shown by the API, as its name.
enum class Authority { kLetsEncrypt };
std::string_view AuthorityName(Authority authority);  // "letsencrypt"
std::optional<Authority> ParseAuthority(std::string_view name);

// The key type of automatically issued certificates. Stored, and shown by
// the API, as its name.
enum class KeyType { kEcdsa, kRsa };
std::string_view KeyTypeName(KeyType type);  // "ecdsa", "rsa"
std::optional<KeyType> ParseKeyType(std::string_view name);

// Automatic certificate management of a domain.
struct ManagementPolicy {
  Authority authority = Authority::kLetsEncrypt;
  KeyType private_key_type = KeyType::kEcdsa;
  bool operator==(const ManagementPolicy&) const = default;
};

// A reserved domain. `domain` is normalized ASCII and may start with "*.".
// With a policy, certificate_id is the certificate last issued for it (if
// any); without one, it is the uploaded certificate (if any).
struct Domain {
  std::string id;  // rd_...
  std::string account_id;
  Time created_at;
  std::string description;
  std::string metadata;
  std::string domain;
  std::optional<std::string> certificate_id;
  std::optional<ManagementPolicy> policy;
  std::optional<std::string> cname_target;
  std::optional<std::string> acme_challenge_cname_target;
  // ngrok's resolves_to: where the name resolves, as PoP codes ("us",
  // "global") or "address:port" values; empty means global.
  std::vector<std::string> resolves_to;
  // Kept by automatic management, never by UpdateDomain: when the attached
  // issued certificate is due for renewal, and the key type it was issued
  // with (a policy asking for another type gets a new certificate).
  std::optional<Time> renews_at;
  std::optional<KeyType> issued_key_type;
};

// An endpoint: where the edge accepts traffic for a host and where it sends it.
struct Endpoint {
  std::string id;  // ep_...
  std::string account_id;
  Time created_at;
  Time updated_at;  // the caller sets it on every write; created_at at first
  std::string description;
  std::string metadata;
  std::string url;       // normalized: "https://host" or "tls://host:port"
  std::string scheme;    // "https" or "tls"
  std::string host;      // normalized ASCII
  uint16_t port = 443;
  std::string upstream;  // normalized: "http://h:p", "https://h:p" or "tcp://h:p"
  // Normalized JSON, never holding a private key ("" when there is none):
  // what the edge compiles.
  std::string traffic_policy;
  // The policy as the API shows it: the user's text, or (when that held a
  // private key) the text without it. Never holds a private key.
  std::string traffic_policy_text;
  std::string type = "cloud";  // ngrok's endpoint type; the API makes only "cloud"
  // ngrok's bindings ("public", "internal", "kubernetes"): each a lower-case
  // word of letters, digits, '-' and '_' (the backends store them as a JSON
  // array of such words, and refuse others).
  std::vector<std::string> bindings = {"public"};
  bool pooling_enabled = false;
  std::string domain_id;  // the reserved domain whose name covers host
  // The certificate a terminate-tls action brought, stored as a certificate
  // owned by this endpoint (hidden from /tls_certificates, deleted with it).
  std::optional<std::string> policy_certificate_id;
};

// An endpoint's bindings as the backends keep them: a JSON array of words
// ("[\"public\"]"). A binding that is not a word (1 to 32 lower-case ASCII
// letters, digits, '-' or '_') is kEndpointBindingUnsupported: the
// store refuses it.
Result<std::string> EncodeBindings(const std::vector<std::string>& bindings);
// What EncodeBindings wrote; nullopt for any other text.
std::optional<std::vector<std::string>> DecodeBindings(std::string_view text);

// What deleting something found.
struct DeleteOutcome {
  enum class Status { kDeleted, kNotFound, kInUse };
  Status status = Status::kNotFound;
  // For kInUse: who uses it (domain names, or endpoint URLs), sorted.
  std::vector<std::string> used_by;
};

// What DomainStore::InsertDomains did.
struct InsertDomainsOutcome {
  size_t inserted = 0;
  // Names the same account already held, exactly: skipped, so that an
  // import can run again after it stopped.
  size_t already_reserved = 0;
};

// A domain or endpoint in a NameCheck report; name is a domain's name or an
// endpoint's url.
struct NameRecord {
  std::string id;
  std::string account_id;
  std::string name;
};
// Two records of different accounts that own names in common: `above` is the
// domain whose names include the other's (for "x" and "*.x", the exact one).
struct NameOverlap {
  NameRecord above;
  NameRecord below;  // a domain, or an endpoint whose host `above` owns
};
// What CheckNameOwnership found: overlaps left from before the rule existed
// or written around the store, and domains whose index key does not match
// their name (written around the store; the insert checks cannot see them
// below other names until fixed).
struct NameCheck {
  std::vector<NameOverlap> overlaps;
  std::vector<NameRecord> unindexed;
  int64_t domains = 0;
  int64_t endpoints = 0;
};

// What the edge needs of every account, in one consistent read.
struct EdgeDomain {
  std::string domain;
  std::optional<std::string> certificate_id;
};
struct EdgeState {
  std::vector<EdgeDomain> domains;
  std::vector<Endpoint> endpoints;
  int64_t change_sequence = 0;
};

// A sealed key located for rotation: which record (a certificate, an ACME
// account or a provisioning job; the id is also the key's associated data),
// and its current blob.
struct SealedKeyRef {
  std::string record_id;
  SealedKey key;
};

// An account at an ACME CA (one per directory URL), whose key signs requests.
struct AcmeAccount {
  std::string id;  // acmeacct_...
  std::string directory_url;
  std::string account_url;  // the CA's id for it (JWS "kid")
  SealedKey key;            // associated data: id
  Time created_at;
};

// The durable state of getting one domain a certificate. At most one per
// domain; it survives restarts and is deleted when the certificate is
// attached or the domain stops being managed.
struct ProvisioningJob {
  std::string id;  // job_...
  std::string domain_id;
  std::string account_id;
  std::string domain;    // the domain's name
  KeyType key_type = KeyType::kEcdsa;  // what this job issues
  bool renewal = false;
  Time started_at;
  // What the API shows: the current step, or the last failure.
  std::string msg;
  std::optional<std::string> error_code;  // "DNS_ERROR", "INTERNAL_ERROR"
  std::optional<Time> retries_at;
  // When the job runner may next pick it up, and how many tries failed.
  Time next_run_at;
  int failures = 0;
  // Resumption: the ACME order being worked on, and the certificate's key,
  // made once per job so that a restart never makes a second one.
  std::string order_url;
  std::optional<SealedKey> private_key;  // associated data: id
  // The lease: which runner (a node id) last claimed the job, and the fencing
  // token of that claim. Every claim gives the job a token greater than any
  // it had before, so a runner whose lease was taken over holds an older
  // token, and the store refuses its writes. A job never claimed has owner
  // "" and token 0.
  std::string lease_owner;
  int64_t lease_token = 0;
};

// One alert for one webhook in the outbox (notification_store.h): made once
// per event and recipient, kept after delivery so that the same event is
// never sent twice.
struct Notification {
  std::string id;         // ntf_...
  // Whom it is for: "sha256:" and the hex SHA-256 of the webhook's URL (a
  // webhook's path often holds its receiver's secret, which the store need
  // not keep).
  std::string recipient;
  // What makes the event one event: (recipient, event_key) is unique, e.g.
  // "certificate.expiring:cert_...:14d".
  std::string event_key;
  std::string event_type;  // "certificate.expiring", ...
  // What the event is about, when it can outlive its record: the
  // certificate of a certificate.expiring event ("" otherwise).
  std::string subject_id;
  std::string body;  // the JSON document POSTed, signed as it is
  Time created_at;
  // Delivery: the next attempt's time, attempts made, the last failure.
  Time next_attempt_at;
  int attempts = 0;
  std::string last_error;
  std::optional<Time> delivered_at;
  std::optional<Time> abandoned_at;  // given up on: never attempted again
  // The lease of the node delivering it (like a job's: every claim raises
  // the token, and writes need the token of the claim that read it).
  std::string lease_owner;
  int64_t lease_token = 0;
};

// An HTTP-01 answer the edge serves at /.well-known/acme-challenge/<token>.
struct Http01Challenge {
  std::string token;
  std::string key_authorization;
  std::string job_id;
};

}  // namespace certgate::store
