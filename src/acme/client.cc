#include "acme/client.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "acme/http_transport.h"
#include "acme/jws.h"

namespace certgate::acme {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;

constexpr size_t kMaxPooledNonces = 8;
constexpr size_t kMaxNonceLength = 256;
constexpr std::string_view kJoseJson = "application/jose+json";
constexpr std::string_view kPemChain = "application/pem-certificate-chain";

Error BadResponse(std::string_view context, std::string_view what) {
  return MakeError(ErrorCode::kAcmeBadResponse, fmt::format("{}: {}", context, what));
}

std::optional<std::chrono::seconds> RetryAfterOf(const HttpResponse& response) {
  std::string value = response.Header("Retry-After");
  if (value.empty()) return std::nullopt;
  return ParseRetryAfter(value, std::chrono::system_clock::now());
}

// The body of a successful response as a JSON object.
Result<json::object> JsonBody(const HttpResponse& response, std::string_view context) {
  std::string media = response.MediaType();
  if (media != "application/json") {
    return BadResponse(context, fmt::format("the CA answered Content-Type '{}', not "
                                            "application/json",
                                            media.substr(0, 100)));
  }
  boost::system::error_code ec;
  json::value v = json::parse(response.body, ec);
  if (ec || !v.is_object()) return BadResponse(context, "the CA's answer is not a JSON object");
  return std::move(v.get_object());
}

// A string member; "" when absent. Error when present with another type.
Result<std::string> OptionalString(const json::object& obj, std::string_view key,
                                   std::string_view context) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) return BadResponse(context, fmt::format("'{}' is not a string", key));
  return std::string(v->get_string());
}

Result<std::string> RequiredString(const json::object& obj, std::string_view key,
                                   std::string_view context) {
  CG_ASSIGN_OR_RETURN(std::string s, OptionalString(obj, key, context));
  if (s.empty()) return BadResponse(context, fmt::format("the CA's answer has no '{}'", key));
  return s;
}

std::optional<Problem> ProblemMember(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr || !v->is_object()) return std::nullopt;
  return ParseProblem(json::serialize(*v));
}

// {"type":"dns","value":"example.com"} -> "example.com".
Result<std::string> IdentifierValue(const json::value& v, std::string_view context) {
  if (!v.is_object()) return BadResponse(context, "an identifier is not an object");
  CG_ASSIGN_OR_RETURN(std::string type, RequiredString(v.get_object(), "type", context));
  CG_ASSIGN_OR_RETURN(std::string value, RequiredString(v.get_object(), "value", context));
  if (type != "dns") return BadResponse(context, fmt::format("unexpected identifier type '{}'",
                                                             type.substr(0, 40)));
  return value;
}

Result<Order> ParseOrder(const json::object& obj, std::string_view context) {
  Order order;
  CG_ASSIGN_OR_RETURN(order.status, RequiredString(obj, "status", context));
  CG_ASSIGN_OR_RETURN(order.finalize, RequiredString(obj, "finalize", context));
  CG_ASSIGN_OR_RETURN(order.certificate, OptionalString(obj, "certificate", context));
  const json::value* ids = obj.if_contains("identifiers");
  if (ids == nullptr || !ids->is_array()) {
    return BadResponse(context, "the order has no 'identifiers' array");
  }
  for (const json::value& id : ids->get_array()) {
    CG_ASSIGN_OR_RETURN(std::string value, IdentifierValue(id, context));
    order.identifiers.push_back(std::move(value));
  }
  const json::value* authzs = obj.if_contains("authorizations");
  if (authzs == nullptr || !authzs->is_array()) {
    return BadResponse(context, "the order has no 'authorizations' array");
  }
  for (const json::value& a : authzs->get_array()) {
    if (!a.is_string()) return BadResponse(context, "an authorization URL is not a string");
    order.authorizations.emplace_back(a.get_string());
  }
  order.error = ProblemMember(obj, "error");
  return order;
}

Result<Challenge> ParseChallenge(const json::object& obj, std::string_view context) {
  Challenge c;
  CG_ASSIGN_OR_RETURN(c.type, RequiredString(obj, "type", context));
  CG_ASSIGN_OR_RETURN(c.url, RequiredString(obj, "url", context));
  CG_ASSIGN_OR_RETURN(c.status, RequiredString(obj, "status", context));
  CG_ASSIGN_OR_RETURN(c.token, OptionalString(obj, "token", context));
  c.error = ProblemMember(obj, "error");
  return c;
}

Result<Authorization> ParseAuthorization(const json::object& obj, std::string_view context) {
  Authorization a;
  CG_ASSIGN_OR_RETURN(a.status, RequiredString(obj, "status", context));
  const json::value* id = obj.if_contains("identifier");
  if (id == nullptr) return BadResponse(context, "the authorization has no 'identifier'");
  CG_ASSIGN_OR_RETURN(a.identifier, IdentifierValue(*id, context));
  if (const json::value* w = obj.if_contains("wildcard"); w != nullptr && w->is_bool()) {
    a.wildcard = w->get_bool();
  }
  const json::value* challenges = obj.if_contains("challenges");
  if (challenges == nullptr || !challenges->is_array()) {
    return BadResponse(context, "the authorization has no 'challenges' array");
  }
  for (const json::value& c : challenges->get_array()) {
    if (!c.is_object()) return BadResponse(context, "a challenge is not an object");
    CG_ASSIGN_OR_RETURN(Challenge challenge, ParseChallenge(c.get_object(), context));
    a.challenges.push_back(std::move(challenge));
  }
  return a;
}

bool IsValidNonce(std::string_view nonce) {
  if (nonce.empty() || nonce.size() > kMaxNonceLength) return false;
  for (char c : nonce) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

const Challenge* Authorization::Find(std::string_view type) const {
  for (const Challenge& c : challenges) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

Client::Client(ClientOptions options, std::unique_ptr<HttpTransport> transport)
    : options_(std::move(options)), transport_(std::move(transport)) {}

Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  CG_RETURN_IF_ERROR(ParseAcmeUrl(options.directory_url));
  if (options.timeout <= std::chrono::milliseconds(0)) {
    return MakeError(ErrorCode::kConfigInvalid, "the ACME timeout must be positive");
  }
  if (options.bad_nonce_retries < 0 || options.bad_nonce_retries > 100) {
    return MakeError(ErrorCode::kConfigInvalid, "bad_nonce_retries must be within 0..100");
  }
  CG_ASSIGN_OR_RETURN(auto transport,
                      HttpTransport::Create(options.ca_file, options.user_agent, options.timeout));
  return std::unique_ptr<Client>(new Client(std::move(options), std::move(transport)));
}

Result<Directory> Client::GetDirectory() {
  {
    std::lock_guard lock(mu_);
    if (directory_) return *directory_;
  }
  constexpr std::string_view kContext = "reading the CA's directory";
  CG_ASSIGN_OR_RETURN(HttpResponse response,
                      Send("directory", http::verb::get, options_.directory_url, "", "",
                           kMaxJsonBytes));
  KeepNonce(response);  // a CA may send one with any response
  if (response.status != 200) {
    Error e = MakeError(response.status >= 500 ? ErrorCode::kAcmeUnreachable
                                               : ErrorCode::kAcmeBadResponse,
                        fmt::format("{} at {}: HTTP {}", kContext, options_.directory_url,
                                    response.status));
    e.retry_after = RetryAfterOf(response);
    return e;
  }
  CG_ASSIGN_OR_RETURN(json::object obj, JsonBody(response, kContext));
  Directory dir;
  CG_ASSIGN_OR_RETURN(dir.new_nonce, RequiredString(obj, "newNonce", kContext));
  CG_ASSIGN_OR_RETURN(dir.new_account, RequiredString(obj, "newAccount", kContext));
  CG_ASSIGN_OR_RETURN(dir.new_order, RequiredString(obj, "newOrder", kContext));
  CG_ASSIGN_OR_RETURN(dir.revoke_cert, OptionalString(obj, "revokeCert", kContext));
  CG_ASSIGN_OR_RETURN(dir.key_change, OptionalString(obj, "keyChange", kContext));
  CG_ASSIGN_OR_RETURN(dir.renewal_info, OptionalString(obj, "renewalInfo", kContext));
  if (const json::value* meta = obj.if_contains("meta"); meta != nullptr && meta->is_object()) {
    CG_ASSIGN_OR_RETURN(dir.terms_of_service,
                        OptionalString(meta->get_object(), "termsOfService", kContext));
    if (const json::value* ext = meta->get_object().if_contains("externalAccountRequired");
        ext != nullptr && ext->is_bool()) {
      dir.external_account_required = ext->get_bool();
    }
  }
  std::lock_guard lock(mu_);
  if (!directory_) directory_ = dir;
  return *directory_;
}

Result<std::string> Client::TakeNonce(const Directory& directory) {
  {
    std::lock_guard lock(mu_);
    if (!nonces_.empty()) {
      std::string nonce = std::move(nonces_.back());
      nonces_.pop_back();
      return nonce;
    }
  }
  CG_ASSIGN_OR_RETURN(HttpResponse response,
                      Send("newNonce", http::verb::head, directory.new_nonce, "", "", 0));
  std::string nonce = response.Header("Replay-Nonce");
  if (response.status >= 500) {
    Error e = MakeError(ErrorCode::kAcmeUnreachable,
                        fmt::format("getting a nonce from the CA: HTTP {}", response.status));
    e.retry_after = RetryAfterOf(response);
    return e;
  }
  if ((response.status != 200 && response.status != 204) || !IsValidNonce(nonce)) {
    return BadResponse("getting a nonce from the CA",
                       fmt::format("HTTP {} without a valid Replay-Nonce", response.status));
  }
  return nonce;
}

void Client::KeepNonce(const HttpResponse& response) {
  std::string nonce = response.Header("Replay-Nonce");
  if (!IsValidNonce(nonce)) return;
  std::lock_guard lock(mu_);
  nonces_.push_back(std::move(nonce));
  while (nonces_.size() > kMaxPooledNonces) nonces_.pop_front();
}

// `context` must not contain ": " (ProblemTypeOf reads the type after it).
Result<HttpResponse> Client::Send(std::string_view endpoint, http::verb method,
                                  std::string_view url, std::string body,
                                  std::string_view content_type, size_t body_limit,
                                  std::string_view accept) const {
  const auto started = std::chrono::steady_clock::now();
  auto response =
      transport_->Send(method, url, std::move(body), content_type, body_limit, accept);
  if (options_.observe) {
    options_.observe(endpoint, response ? response->status : 0,
                     std::chrono::steady_clock::now() - started);
  }
  return response;
}

Result<HttpResponse> Client::Post(std::string_view endpoint, EVP_PKEY* key, std::string_view kid,
                                  std::string_view url, const std::optional<std::string>& payload,
                                  std::string_view context, size_t body_limit,
                                  std::string_view accept) {
  CG_ASSIGN_OR_RETURN(Directory directory, GetDirectory());
  for (int attempt = 0;; ++attempt) {
    CG_ASSIGN_OR_RETURN(std::string nonce, TakeNonce(directory));
    JwsHeader header{std::string(url), std::move(nonce), std::string(kid)};
    CG_ASSIGN_OR_RETURN(std::string jws, SignJws(key, header, payload.value_or("")));
    CG_ASSIGN_OR_RETURN(HttpResponse response,
                        Send(endpoint, http::verb::post, url, std::move(jws), kJoseJson,
                             body_limit, accept));
    KeepNonce(response);
    if (response.status < 400) return response;

    std::optional<Problem> problem;
    std::string media = response.MediaType();
    if (media == "application/problem+json" || media == "application/json") {
      problem = ParseProblem(response.body);
    }
    if (problem && problem->type == std::string(kAcmeErrorPrefix) + "badNonce" &&
        attempt < options_.bad_nonce_retries) {
      ++bad_nonce_retries_;
      continue;  // the CA's answer carried a fresh nonce, now in the pool
    }
    auto retry_after = RetryAfterOf(response);
    if (problem) {
      if (problem->status == 0) problem->status = response.status;
      return ProblemError(context, *problem, retry_after);
    }
    Error e = MakeError(response.status >= 500 ? ErrorCode::kAcmeUnreachable
                                               : ErrorCode::kAcmeBadResponse,
                        fmt::format("{} with HTTP {} and no problem document", context,
                                    response.status));
    e.retry_after = retry_after;
    return e;
  }
}

Result<std::string> Client::NewAccount(EVP_PKEY* account_key, const AccountOptions& options,
                                       bool only_return_existing) {
  CG_ASSIGN_OR_RETURN(Directory directory, GetDirectory());
  json::object payload;
  if (only_return_existing) {
    payload["onlyReturnExisting"] = true;
  } else {
    if (options.terms_agreed) payload["termsOfServiceAgreed"] = true;
    if (!options.contacts.empty()) {
      json::array contacts;
      for (const auto& c : options.contacts) contacts.emplace_back(c);
      payload["contact"] = std::move(contacts);
    }
    if (options.eab) {
      CG_ASSIGN_OR_RETURN(std::string eab,
                          ExternalAccountBindingJws(account_key, options.eab->kid,
                                                    options.eab->hmac_key_b64url,
                                                    directory.new_account));
      payload["externalAccountBinding"] = json::parse(eab);
    }
  }
  CG_ASSIGN_OR_RETURN(HttpResponse response,
                      Post("newAccount", account_key, "", directory.new_account,
                           json::serialize(payload), "the CA refused newAccount", kMaxJsonBytes));
  std::string location = response.Header("Location");
  if (location.empty()) {
    return BadResponse("registering the ACME account", "the CA sent no account URL (Location)");
  }
  CG_RETURN_IF_ERROR(JsonBody(response, "registering the ACME account"));
  return location;
}

Result<std::string> Client::RegisterAccount(EVP_PKEY* account_key,
                                            const AccountOptions& options) {
  return NewAccount(account_key, options, /*only_return_existing=*/false);
}

Result<std::optional<std::string>> Client::FindAccount(EVP_PKEY* account_key) {
  auto url = NewAccount(account_key, AccountOptions{}, /*only_return_existing=*/true);
  if (!url.ok()) {
    if (IsProblem(url.error(), "accountDoesNotExist")) return std::optional<std::string>();
    return std::move(url).error();
  }
  return std::optional<std::string>(std::move(url).value());
}

Result<Order> Client::NewOrder(const AccountRef& account,
                               const std::vector<std::string>& dns_names) {
  if (dns_names.empty()) {
    return MakeError(ErrorCode::kInternal, "an ACME order needs at least one name");
  }
  CG_ASSIGN_OR_RETURN(Directory directory, GetDirectory());
  json::array identifiers;
  for (const auto& name : dns_names) {
    identifiers.push_back(json::object{{"type", "dns"}, {"value", name}});
  }
  json::object payload{{"identifiers", std::move(identifiers)}};
  constexpr std::string_view kContext = "the CA refused newOrder";
  CG_ASSIGN_OR_RETURN(HttpResponse response,
                      Post("newOrder", account.key, account.url, directory.new_order,
                           json::serialize(payload), kContext, kMaxJsonBytes));
  CG_ASSIGN_OR_RETURN(json::object obj, JsonBody(response, "reading the new order"));
  CG_ASSIGN_OR_RETURN(Order order, ParseOrder(obj, "reading the new order"));
  order.url = response.Header("Location");
  if (order.url.empty()) return BadResponse("reading the new order", "no order URL (Location)");
  order.retry_after = RetryAfterOf(response);
  return order;
}

Result<Order> Client::GetOrder(const AccountRef& account, std::string_view url) {
  CG_ASSIGN_OR_RETURN(HttpResponse response,
                      Post("order", account.key, account.url, url, std::nullopt,
                           "the CA refused to show the order", kMaxJsonBytes));
  CG_ASSIGN_OR_RETURN(json::object obj, JsonBody(response, "reading the order"));
  CG_ASSIGN_OR_RETURN(Order order, ParseOrder(obj, "reading the order"));
  order.url = std::string(url);
  order.retry_after = RetryAfterOf(response);
  return order;
}

Result<Authorization> Client::GetAuthorization(const AccountRef& account, std::string_view url) {
  CG_ASSIGN_OR_RETURN(HttpResponse response,
                      Post("authorization", account.key, account.url, url, std::nullopt,
                           "the CA refused to show the authorization", kMaxJsonBytes));
  CG_ASSIGN_OR_RETURN(json::object obj, JsonBody(response, "reading the authorization"));
  CG_ASSIGN_OR_RETURN(Authorization authz, ParseAuthorization(obj, "reading the authorization"));
  authz.url = std::string(url);
  authz.retry_after = RetryAfterOf(response);
  return authz;
}

Result<Challenge> Client::RespondToChallenge(const AccountRef& account,
                                             std::string_view challenge_url) {
  CG_ASSIGN_OR_RETURN(HttpResponse response,
                      Post("challenge", account.key, account.url, challenge_url, std::string("{}"),
                           "the CA refused the challenge response", kMaxJsonBytes));
  CG_ASSIGN_OR_RETURN(json::object obj, JsonBody(response, "reading the challenge"));
  return ParseChallenge(obj, "reading the challenge");
}

Result<Order> Client::Finalize(const AccountRef& account, std::string_view finalize_url,
                               std::span<const uint8_t> csr_der) {
  json::object payload{{"csr", Base64UrlEncode(csr_der)}};
  CG_ASSIGN_OR_RETURN(HttpResponse response,
                      Post("finalize", account.key, account.url, finalize_url,
                           json::serialize(payload), "the CA refused to finalize the order",
                           kMaxJsonBytes));
  CG_ASSIGN_OR_RETURN(json::object obj, JsonBody(response, "reading the finalized order"));
  CG_ASSIGN_OR_RETURN(Order order, ParseOrder(obj, "reading the finalized order"));
  order.url = response.Header("Location");
  order.retry_after = RetryAfterOf(response);
  return order;
}

Result<CertificateChain> Client::DownloadCertificate(const AccountRef& account,
                                                     std::string_view url) {
  constexpr std::string_view kContext = "downloading the certificate";
  CG_ASSIGN_OR_RETURN(HttpResponse response,
                      Post("certificate", account.key, account.url, url, std::nullopt,
                           "the CA refused the certificate download", kMaxChainBytes, kPemChain));
  if (response.status != 200) {
    return BadResponse(kContext, fmt::format("the CA answered HTTP {}", response.status));
  }
  if (response.MediaType() != kPemChain) {
    return BadResponse(kContext, fmt::format("the CA answered Content-Type '{}', not {}",
                                             response.MediaType().substr(0, 100), kPemChain));
  }
  if (response.body.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return BadResponse(kContext, "the CA's answer holds no PEM certificate");
  }
  CertificateChain chain;
  chain.pem = std::move(response.body);
  chain.alternate_urls = LinksWithRel(response, "alternate");
  return chain;
}

Result<std::string> Client::RenewalCertId(X509* leaf) {
  // Read from the extension itself (not OpenSSL's cached view, which wants
  // a whole, signed certificate).
  std::unique_ptr<AUTHORITY_KEYID, decltype(&AUTHORITY_KEYID_free)> aki(
      static_cast<AUTHORITY_KEYID*>(
          X509_get_ext_d2i(leaf, NID_authority_key_identifier, nullptr, nullptr)),
      &AUTHORITY_KEYID_free);
  const ASN1_OCTET_STRING* akid = aki ? aki->keyid : nullptr;
  if (akid == nullptr || ASN1_STRING_length(akid) <= 0) {
    return BadResponse("identifying the certificate for renewal information",
                       "the certificate has no authority key identifier");
  }
  // The serial's DER, less its tag and (short-form: serials are at most 20
  // bytes) length octets: the value with its sign byte, as RFC 9773 wants.
  unsigned char* der = nullptr;
  const int der_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(leaf), &der);
  if (der_len < 3 || der[1] >= 0x80) {
    OPENSSL_free(der);
    return BadResponse("identifying the certificate for renewal information",
                       "the certificate's serial number cannot be encoded");
  }
  std::string id = Base64UrlEncode(std::span<const uint8_t>(
                       ASN1_STRING_get0_data(akid), static_cast<size_t>(ASN1_STRING_length(akid)))) +
                   "." +
                   Base64UrlEncode(std::span<const uint8_t>(der + 2, static_cast<size_t>(der_len - 2)));
  OPENSSL_free(der);
  return id;
}

Result<std::optional<RenewalWindow>> Client::GetRenewalInfo(X509* leaf) {
  constexpr std::string_view kContext = "reading the CA's renewal information";
  CG_ASSIGN_OR_RETURN(Directory directory, GetDirectory());
  if (directory.renewal_info.empty()) return std::optional<RenewalWindow>();
  CG_ASSIGN_OR_RETURN(std::string cert_id, RenewalCertId(leaf));
  std::string url = directory.renewal_info;
  if (!url.ends_with('/')) url += '/';
  url += cert_id;
  CG_ASSIGN_OR_RETURN(HttpResponse response,
                      Send("renewalInfo", http::verb::get, url, "", "", kMaxJsonBytes));
  KeepNonce(response);
  if (response.status != 200) {
    Error e = MakeError(response.status >= 500 || response.status == 429
                            ? ErrorCode::kAcmeUnreachable
                            : ErrorCode::kAcmeBadResponse,
                        fmt::format("{}: HTTP {}", kContext, response.status));
    e.retry_after = RetryAfterOf(response);
    return e;
  }
  CG_ASSIGN_OR_RETURN(json::object obj, JsonBody(response, kContext));
  const json::value* window = obj.if_contains("suggestedWindow");
  if (window == nullptr || !window->is_object()) {
    return BadResponse(kContext, "the answer has no 'suggestedWindow' object");
  }
  CG_ASSIGN_OR_RETURN(std::string start, RequiredString(window->get_object(), "start", kContext));
  CG_ASSIGN_OR_RETURN(std::string end, RequiredString(window->get_object(), "end", kContext));
  auto start_time = ParseRfc3339(start);
  auto end_time = ParseRfc3339(end);
  if (!start_time || !end_time) {
    return BadResponse(kContext, "the suggested window's times are not RFC 3339");
  }
  if (*end_time <= *start_time) {
    return BadResponse(kContext, "the suggested window ends before it starts");
  }
  return std::optional<RenewalWindow>(RenewalWindow{*start_time, *end_time, RetryAfterOf(response)});
}

Result<std::string> Client::KeyAuthorization(EVP_PKEY* account_key, std::string_view token) {
  CG_ASSIGN_OR_RETURN(std::string thumbprint, JwkThumbprint(account_key));
  return std::string(token) + "." + thumbprint;
}

Result<std::string> Client::Dns01TxtValue(EVP_PKEY* account_key, std::string_view token) {
  CG_ASSIGN_OR_RETURN(std::string key_authorization, KeyAuthorization(account_key, token));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(key_authorization.data(), key_authorization.size(), digest, &len, EVP_sha256(),
                 nullptr) != 1) {
    return MakeError(ErrorCode::kInternal, "SHA-256 failed");
  }
  return Base64UrlEncode(std::span<const uint8_t>(digest, len));
}

}  // namespace certgate::acme
