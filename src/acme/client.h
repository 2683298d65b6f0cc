// acme::Client: a blocking RFC 8555 client for one ACME certificate
// authority (directory URL). It speaks the protocol only: accounts, orders,
// authorizations, challenges, finalization and certificate download, each
// one call. Solving challenges, polling policy, backoff and storage belong to
// the caller (see acme/poll.h for simple polling helpers).
//
// Thread-safe: several provisioning jobs share one Client per CA. The cached
// directory and the nonce pool sit behind a mutex; HTTP exchanges run outside
// it, each on its own connection.
//
// Every HTTP exchange has a deadline (ClientOptions::timeout); a call makes a
// bounded number of exchanges (the directory once per Client, a nonce when the
// pool is empty, and up to ClientOptions::bad_nonce_retries retries of a request the CA
// refused with `badNonce`), so every call returns in bounded time.
//
// Errors (see acme/problem.h for how problem documents map):
//   kConfigInvalid    bad options or a URL that is not https:// (http:// is
//                     allowed only to 127.0.0.1, ::1 and localhost)
//   kAcmeUnreachable  resolve/connect/TLS/timeout, or a 5xx without a problem
//                     document (Error::retry_after when the CA sent one)
//   kAcmeProblem      any other problem document; IsProblem(e, "accountDoesNotExist")
//   kAcmeRateLimited  `rateLimited`, with Error::retry_after from Retry-After
//   kAcmeBadResponse  unparseable JSON, missing fields, wrong content type,
//                     oversized responses (JSON 1 MiB, certificate chains 256 KiB)
//   kKeyUnsupportedType / kKeyUnsupportedCurve  an account key other than
//                     ECDSA P-256/P-384 or RSA
//
// Never logs; never puts key material or a JWS into an Error message.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "acme/problem.h"
#include "core/result.h"
#include "core/time.h"

namespace certgate::http_client {
struct HttpResponse;
}  // namespace certgate::http_client

namespace certgate::acme {

class HttpTransport;
using HttpResponse = http_client::HttpResponse;

struct ClientOptions {
  // REQUIRES: https://, or http:// to 127.0.0.1/::1/localhost.
  std::string directory_url;
  // PEM file of the CA that signs the ACME server's own HTTPS certificate;
  // "" trusts the system store.
  std::string ca_file;
  // Per HTTP exchange (connect, TLS, request and response). Default: 30 s.
  std::chrono::milliseconds timeout{30000};
  std::string user_agent = "certgate/0.1 (+acme)";
  // How often a request the CA refused with `badNonce` is resent, each time
  // with the fresh nonce from the refusal. Default: 5.
  int bad_nonce_retries = 5;
  // Told of every request to the CA once it ended: the endpoint
  // ("directory", "newNonce", "newAccount", "newOrder", "order",
  // "authorization", "challenge", "finalize", "certificate",
  // "renewalInfo"), the HTTP status (0: no answer) and how long it took.
  // For metrics; called on the requesting thread, must be quick.
  std::function<void(std::string_view endpoint, int status, std::chrono::duration<double> took)>
      observe;
};

// The directory (RFC 8555 §7.1.1).
struct Directory {
  std::string new_nonce, new_account, new_order, revoke_cert, key_change;
  std::string renewal_info;  // ACME Renewal Information (RFC 9773), "" if not offered
  std::string terms_of_service;          // meta.termsOfService, may be ""
  bool external_account_required = false;  // meta.externalAccountRequired
};

// The account a request is made as. key is borrowed for the call only.
struct AccountRef {
  EVP_PKEY* key = nullptr;
  std::string url;  // the account URL ("kid") RegisterAccount returned
};

struct ExternalAccountBinding {
  std::string kid;
  std::string hmac_key_b64url;  // as the CA issued it
};

struct AccountOptions {
  std::vector<std::string> contacts;  // "mailto:ops@example.com"
  bool terms_agreed = true;
  std::optional<ExternalAccountBinding> eab;
};

struct Challenge {
  std::string type;  // "http-01", "dns-01", "tls-alpn-01", ...
  std::string url;
  std::string token;
  std::string status;  // pending, processing, valid, invalid
  std::optional<Problem> error;
};

struct Authorization {
  std::string url;
  std::string identifier;  // the DNS name, without "*." for wildcards
  std::string status;      // pending, valid, invalid, deactivated, expired, revoked
  bool wildcard = false;
  std::vector<Challenge> challenges;
  std::optional<std::chrono::seconds> retry_after;  // from the response, for polling

  // The challenge of that type, or nullptr.
  const Challenge* Find(std::string_view type) const;
};

struct Order {
  std::string url;     // from Location (NewOrder) or the URL asked (GetOrder)
  std::string status;  // pending, ready, processing, valid, invalid
  std::vector<std::string> identifiers;  // DNS names as ordered ("*.x" for wildcards)
  std::vector<std::string> authorizations;
  std::string finalize;
  std::string certificate;  // once valid
  std::optional<Problem> error;
  std::optional<std::chrono::seconds> retry_after;
};

// The CA's suggested renewal window for a certificate (RFC 9773).
struct RenewalWindow {
  Time start;
  Time end;
  // When to ask again (the response's Retry-After), if the CA said.
  std::optional<std::chrono::seconds> retry_after;
};

struct CertificateChain {
  std::string pem;  // leaf first, as the CA sent it
  std::vector<std::string> alternate_urls;  // Link: rel="alternate" (RFC 8555 §7.4.2)
};

class Client {
 public:
  static constexpr size_t kMaxJsonBytes = 1024 * 1024;
  static constexpr size_t kMaxChainBytes = 256 * 1024;

  // Validates options and loads ca_file; contacts nobody yet.
  static Result<std::unique_ptr<Client>> Create(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The directory, fetched on first use and cached for the Client's life.
  Result<Directory> GetDirectory();

  // newAccount with the key's JWK: returns the account URL. An existing
  // account for this key is found, not duplicated (the CA answers 200 with
  // its Location). With options.eab, binds the account to the external
  // account (RFC 8555 §7.3.4).
  Result<std::string> RegisterAccount(EVP_PKEY* account_key, const AccountOptions& options);
  // newAccount with onlyReturnExisting: the account URL, or nullopt when the
  // CA has no account for this key.
  Result<std::optional<std::string>> FindAccount(EVP_PKEY* account_key);

  // newOrder for DNS identifiers ("*.example.com" for a wildcard).
  Result<Order> NewOrder(const AccountRef& account, const std::vector<std::string>& dns_names);
  // POST-as-GET of an order; Order::retry_after from Retry-After.
  Result<Order> GetOrder(const AccountRef& account, std::string_view url);
  Result<Authorization> GetAuthorization(const AccountRef& account, std::string_view url);
  // Tells the CA the challenge is ready to be validated (POST {}).
  Result<Challenge> RespondToChallenge(const AccountRef& account, std::string_view challenge_url);
  // Submits the CSR (DER). The returned order is typically "processing" or
  // "valid"; its url is the Location the CA sent, or "".
  Result<Order> Finalize(const AccountRef& account, std::string_view finalize_url,
                         std::span<const uint8_t> csr_der);
  // The certificate chain at url (an order's certificate, or one of the
  // alternate_urls), as application/pem-certificate-chain.
  Result<CertificateChain> DownloadCertificate(const AccountRef& account, std::string_view url);

  // token "." base64url(JWK thumbprint) (RFC 8555 §8.1): the HTTP-01 body.
  // The CA's renewal window for an issued leaf certificate (an
  // unauthenticated GET of renewalInfo/<certID>); nullopt when the CA offers
  // no renewalInfo. Errors as for the other calls; kAcmeBadResponse for a
  // window whose end is not after its start.
  Result<std::optional<RenewalWindow>> GetRenewalInfo(X509* leaf);
  // RFC 9773's certificate identifier: base64url(authority key identifier)
  // "." base64url(DER of the serial number's value). Error kAcmeBadResponse
  // for a certificate without an authority key identifier.
  static Result<std::string> RenewalCertId(X509* leaf);

  static Result<std::string> KeyAuthorization(EVP_PKEY* account_key, std::string_view token);
  // base64url(SHA-256(key authorization)): the DNS-01 TXT value (§8.4).
  static Result<std::string> Dns01TxtValue(EVP_PKEY* account_key, std::string_view token);

  // How many requests were resent after a `badNonce` refusal, over the
  // Client's life (for metrics and tests).
  uint64_t bad_nonce_retries() const { return bad_nonce_retries_.load(); }

 private:
  Client(ClientOptions options, std::unique_ptr<HttpTransport> transport);

  // A signed POST to url with payload (nullopt: POST-as-GET), retried on
  // badNonce. kid "" signs with the key's JWK. Problems become errors
  // starting with `context`.
  Result<HttpResponse> Post(std::string_view endpoint, EVP_PKEY* key, std::string_view kid,
                            std::string_view url, const std::optional<std::string>& payload,
                            std::string_view context, size_t body_limit,
                            std::string_view accept = "");
  // transport_->Send, told to options_.observe.
  Result<HttpResponse> Send(std::string_view endpoint, boost::beast::http::verb method,
                            std::string_view url, std::string body,
                            std::string_view content_type, size_t body_limit,
                            std::string_view accept = "") const;
  Result<std::string> TakeNonce(const Directory& directory);
  void KeepNonce(const HttpResponse& response);
  Result<std::string> NewAccount(EVP_PKEY* account_key, const AccountOptions& options,
                                 bool only_return_existing);

  const ClientOptions options_;
  const std::unique_ptr<HttpTransport> transport_;

  std::atomic<uint64_t> bad_nonce_retries_{0};
  std::mutex mu_;
  std::optional<Directory> directory_;  // GUARDED_BY(mu_)
  std::deque<std::string> nonces_;      // GUARDED_BY(mu_), newest at the back
};

}  // namespace certgate::acme
