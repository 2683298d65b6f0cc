// Automatic certificates end to end, against real peers on 127.0.0.1:
//   Pebble (the ACME CA, PEBBLE_VA_NOSLEEP=1, 5% nonce rejection left on),
//   pebble-challtestsrv (the customer's DNS, holding the CNAME records),
//   unbound (the recursive resolver both Pebble and certgate use, with stub
//   zones for the customer's zone and certgate's own zone),
//   and `certgate serve` with its authoritative DNS, its HTTP listener (where
//   Pebble sends HTTP-01 checks) and its TLS edge.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <chrono>
#include <stdexcept>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "core/time.h"
#include "pki/testing/cert_factory.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"
#include "support/challtestsrv.h"
#include "support/edge_peers.h"
#include "support/holding_relay.h"
#include "support/pebble.h"
#include "support/process.h"
#include "support/unbound.h"
#include "support/webhook_receiver.h"
#include "notify/alerts.h"

namespace certgate::testing {
namespace {

namespace json = boost::json;
using std::chrono::seconds;

constexpr char kBase[] = "certgate.test";
constexpr char kCustomer[] = "customer.test";

// Whether pem (leaf first, then intermediates) verifies for name against the roots.
::testing::AssertionResult VerifiesAgainst(const std::string& pem, const std::string& roots_pem,
                                           const std::string& name) {
  auto read_all = [](const std::string& text) {
    std::vector<X509*> out;
    BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
    while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) out.push_back(x);
    BIO_free(bio);
    return out;
  };
  std::vector<X509*> chain = read_all(pem);
  std::vector<X509*> roots = read_all(roots_pem);
  if (chain.empty() || roots.empty()) return ::testing::AssertionFailure() << "no certificates";
  X509_STORE* store = X509_STORE_new();
  for (X509* r : roots) X509_STORE_add_cert(store, r);
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted, chain[i]);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, chain[0], untrusted);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), name.c_str(), name.size());
  const bool ok = X509_verify_cert(ctx) == 1;
  const int err = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
  for (X509* x : chain) X509_free(x);
  for (X509* r : roots) X509_free(r);
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "verify failed: " << X509_verify_cert_error_string(err);
}

struct PeerOptions {
  int validity_seconds = 0;
  // Pebble's HTTP-01 checks go through a HoldingRelay the test controls.
  bool relay_http01 = false;
  std::map<std::string, std::string> eab_keys;  // Pebble then requires EAB
  std::vector<std::string> extra_args;
  std::map<std::string, std::string> env;  // certgate's
};

// The whole topology. Ports certgate needs before it starts (its DNS and
// HTTP listeners, which unbound and Pebble point at) are picked up front.
class AcmeTopology {
 public:
  explicit AcmeTopology(PeerOptions options = {}) : options_(std::move(options)) {
    dns_port_ = PickFreePort(true);
    http_port_ = PickFreePort();
    customer_ = std::make_unique<ChallTestSrv>();
    unbound_ = std::make_unique<Unbound>(std::vector<StubZone>{
        {kCustomer, "127.0.0.1", customer_->dns_port()}, {kBase, "127.0.0.1", dns_port_}});
    PebbleOptions po;
    po.http_port = http_port_;
    if (options_.relay_http01) {
      relay_ = std::make_unique<HoldingRelay>(http_port_);
      po.http_port = relay_->port();
    }
    po.dns_server = unbound_->address();
    po.certificate_validity_seconds = options_.validity_seconds;
    po.eab_keys = options_.eab_keys;
    pebble_ = std::make_unique<Pebble>(po);
    // The data directory outlives each certgate process, for restarts.
    StartCertgate(ServerOptions::InDir(dir_.path() / "data", options_.env));
  }

  void StartCertgate(ServerOptions so) {
    so.extra_args = {"--base-domain",    kBase,
                     "--http-listen",    "127.0.0.1:" + std::to_string(http_port_),
                     "--dns-listen",     "127.0.0.1:" + std::to_string(dns_port_),
                     "--edge-address",   "127.0.0.1",
                     "--resolver",       unbound_->address(),
                     "--acme-directory", pebble_->directory_url(),
                     "--acme-ca-file",   pebble_->ca_file(),
                     "--acme-retry-min", "1",
                     "--acme-retry-max", "2"};
    so.extra_args.insert(so.extra_args.end(), options_.extra_args.begin(),
                         options_.extra_args.end());
    server_ = CertgateServer::Start(std::move(so));
    // Thrown, not asserted: this runs in constructors, and a test must not
    // go on to use a server that is not there.
    if (server_ == nullptr) throw std::runtime_error("certgate serve did not start (see above)");
    if (api_key_.empty()) api_key_ = server_->api_key();
  }

  // A restart on the same data directory and ports, with other extra flags
  // and environment when given.
  void RestartCertgate(std::optional<std::vector<std::string>> extra_args = std::nullopt,
                       std::map<std::string, std::string> env = {}) {
    server_.reset();
    if (extra_args) options_.extra_args = *extra_args;
    StartCertgate(ServerOptions::InDir(dir_.path() / "data", std::move(env)));
  }

  client::ApiClient Api() const { return server_->Client(api_key_); }

  // Creates a managed domain; returns its JSON.
  json::value CreateManaged(const std::string& name, const std::string& key_type = "ecdsa") {
    auto r = Call(Api(), verb::post, "/reserved_domains",
                  json::object{{"domain", name},
                               {"certificate_management_policy",
                                json::object{{"authority", "letsencrypt"},
                                             {"private_key_type", key_type}}}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.json;
  }

  // The customer points name at its cname target (and, for a wildcard, the
  // _acme-challenge name at the acme target).
  void AddRecords(const json::value& domain) {
    const std::string name = JsonString(domain, "domain");
    customer_->SetCname(name, JsonString(domain, "cname_target"));
    const std::string acme = JsonString(domain, "acme_challenge_cname_target");
    if (!acme.empty()) customer_->SetCname("_acme-challenge." + name.substr(2), acme);
  }

  json::value Get(const std::string& id) {
    return Call(Api(), verb::get, "/reserved_domains/" + id).json;
  }

  // Waits for the domain's certificate (a different one than `not`); returns its id.
  std::string WaitForCertificate(const std::string& id, std::chrono::seconds timeout,
                                 const std::string& not_id = "") {
    std::string cert_id;
    Eventually(
        [&] {
          json::value d = Get(id);
          if (!d.is_object()) return false;
          const json::value* c = d.as_object().if_contains("certificate");
          if (c == nullptr || !c->is_object()) return false;
          cert_id = JsonString(*c, "id");
          return !cert_id.empty() && cert_id != not_id;
        },
        timeout);
    if (cert_id == not_id) cert_id.clear();
    if (cert_id.empty()) {
      ADD_FAILURE() << "no certificate for " << id << "; domain: " << json::serialize(Get(id))
                    << "\ncertgate log:\n"
                    << ReadFile(server_->stderr_path());
    }
    return cert_id;
  }

  json::value Certificate(const std::string& cert_id) {
    return Call(Api(), verb::get, "/tls_certificates/" + cert_id).json;
  }

  std::string ServedSerial(const std::string& sni) {
    std::string error;
    auto tls = TlsClient::Connect(server_->https_port(), TlsClientOptions{.sni = sni}, &error);
    if (!tls) return "handshake failed: " + error;
    return tls->PeerSerial();
  }

  uint16_t dns_port() const { return dns_port_; }
  HoldingRelay& relay() { return *relay_; }
  ChallTestSrv& customer() { return *customer_; }
  Pebble& pebble() { return *pebble_; }
  CertgateServer& server() { return *server_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  PeerOptions options_;
  TempDir dir_;
  uint16_t dns_port_ = 0;
  uint16_t http_port_ = 0;
  std::unique_ptr<HoldingRelay> relay_;
  std::unique_ptr<ChallTestSrv> customer_;
  std::unique_ptr<Unbound> unbound_;
  std::unique_ptr<Pebble> pebble_;
  std::unique_ptr<CertgateServer> server_;
  std::string api_key_;
};

// certificate_management_status.provisioning_job, if there is one.
std::optional<json::value> ProvisioningJob(const json::value& domain) {
  if (!domain.is_object()) return std::nullopt;
  const json::value* status = domain.as_object().if_contains("certificate_management_status");
  if (status == nullptr || !status->is_object()) return std::nullopt;
  const json::value* job = status->as_object().if_contains("provisioning_job");
  if (job == nullptr || !job->is_object()) return std::nullopt;
  return *job;
}

// Checks an issued certificate resource: issued_at, key type, names, and the
// chain verifying against Pebble's current issuing root.
void ExpectIssued(AcmeTopology& t, const std::string& cert_id, const std::string& name,
                  const std::string& key_type) {
  json::value cert = t.Certificate(cert_id);
  EXPECT_FALSE(JsonString(cert, "issued_at").empty()) << json::serialize(cert);
  EXPECT_EQ(JsonString(cert, "private_key_type"), key_type);
  const json::value* names = cert.as_object().if_contains("subject_alternative_names");
  ASSERT_NE(names, nullptr);
  EXPECT_NE(json::serialize(*names).find("\"" + name + "\""), std::string::npos)
      << json::serialize(*names);
  const std::string check_name = name.starts_with("*.") ? "x" + name.substr(1) : name;
  EXPECT_TRUE(VerifiesAgainst(JsonString(cert, "certificate_pem"), t.pebble().IssuingRootsPem(),
                              check_name));
}

TEST(AcmeTest, EcdsaAndRsaOverHttp01AreIssuedAndServed) {
  AcmeTopology t;
  json::value ecdsa = t.CreateManaged("shop.customer.test", "ecdsa");
  json::value rsa = t.CreateManaged("legacy.customer.test", "rsa");
  t.AddRecords(ecdsa);
  t.AddRecords(rsa);
  for (const auto& [domain, key_type] : {std::pair{&ecdsa, "ecdsa"}, std::pair{&rsa, "rsa"}}) {
    const std::string name = JsonString(*domain, "domain");
    const std::string cert_id = t.WaitForCertificate(JsonString(*domain, "id"), seconds(90));
    ASSERT_FALSE(cert_id.empty());
    ExpectIssued(t, cert_id, name, key_type);
    // The edge serves it on the next handshake.
    const std::string serial = JsonString(t.Certificate(cert_id), "serial_number");
    EXPECT_TRUE(Eventually([&] { return t.ServedSerial(name) == serial; }, seconds(5)))
        << t.ServedSerial(name) << " != " << serial;
    // Once issued: renewal scheduled, no job left.
    json::value d = t.Get(JsonString(*domain, "id"));
    const json::value& status = d.as_object().at("certificate_management_status");
    EXPECT_FALSE(JsonString(status, "renews_at").empty()) << json::serialize(d);
    EXPECT_FALSE(ProvisioningJob(d).has_value()) << json::serialize(d);
    // An issued certificate belongs to its domain's policy.
    auto del = Call(t.Api(), verb::delete_, "/tls_certificates/" + cert_id);
    EXPECT_TRUE(IsError(del, 400, "ERR_NGROK_1966", name));
  }
}

// Issue 16: automatic is the default, and a policy set over an uploaded
// certificate takes the domain over (certificate: null until its own arrives).
TEST(AcmeTest, ADomainWithNoFieldsAndAPolicyOverAnUploadAreIssuedWhileBaseNamesAreNot) {
  AcmeTopology t;
  auto plain = Call(t.Api(), verb::post, "/reserved_domains",
                    json::object{{"domain", "plain.customer.test"}});
  ASSERT_EQ(plain.status, 201) << plain.raw;
  EXPECT_EQ(plain.json.at("certificate_management_policy"),
            (json::object{{"authority", "letsencrypt"}, {"private_key_type", "ecdsa"}}));

  pki::testing::CertSpec spec;
  spec.common_name = "upload.customer.test";
  spec.dns_names = {"upload.customer.test"};
  const pki::testing::TestChain chain =
      pki::testing::MakeChain(pki::testing::TestKeyType::kEcP256, spec, false);
  auto cert = Call(t.Api(), verb::post, "/tls_certificates",
                   json::object{{"certificate_pem", chain.BundlePem()},
                                {"private_key_pem", pki::testing::KeyPemPkcs8(chain.leaf_key.get())}});
  ASSERT_EQ(cert.status, 201) << cert.raw;
  const std::string uploaded_id = JsonString(cert.json, "id");
  auto upload = Call(t.Api(), verb::post, "/reserved_domains",
                     json::object{{"domain", "upload.customer.test"}, {"certificate_id", uploaded_id}});
  ASSERT_EQ(upload.status, 201) << upload.raw;
  EXPECT_TRUE(upload.json.at("certificate_management_policy").is_null()) << upload.raw;
  const std::string uploaded_serial = JsonString(cert.json, "serial_number");
  EXPECT_TRUE(Eventually([&] { return t.ServedSerial("upload.customer.test") == uploaded_serial; },
                         seconds(5)));
  auto taken = Call(t.Api(), verb::patch, "/reserved_domains/" + JsonString(upload.json, "id"),
                    json::object{{"certificate_management_policy", json::object{}}});
  ASSERT_EQ(taken.status, 200) << taken.raw;
  EXPECT_TRUE(taken.json.at("certificate").is_null()) << taken.raw;
  EXPECT_EQ(JsonString(taken.json.at("certificate_management_policy"), "authority"), "letsencrypt");

  // A name under the service's base domain is the service certificate's.
  auto own = Call(t.Api(), verb::post, "/reserved_domains",
                  json::object{{"domain", std::string("svc.") + kBase}});
  ASSERT_EQ(own.status, 201) << own.raw;
  EXPECT_TRUE(own.json.at("certificate_management_policy").is_null()) << own.raw;
  EXPECT_TRUE(own.json.at("certificate").is_null()) << own.raw;

  t.AddRecords(plain.json);
  t.AddRecords(taken.json);
  for (const auto* d : {&plain.json, &taken.json}) {
    const std::string name = JsonString(*d, "domain");
    const std::string cert_id = t.WaitForCertificate(JsonString(*d, "id"), seconds(90));
    ASSERT_FALSE(cert_id.empty()) << name;
    EXPECT_NE(cert_id, uploaded_id);
    ExpectIssued(t, cert_id, name, "ecdsa");
    const std::string serial = JsonString(t.Certificate(cert_id), "serial_number");
    EXPECT_TRUE(Eventually([&] { return t.ServedSerial(name) == serial; }, seconds(5)))
        << name << ": " << t.ServedSerial(name) << " != " << serial;
  }
  // The uploaded certificate is detached, not deleted.
  EXPECT_EQ(Call(t.Api(), verb::get, "/tls_certificates/" + uploaded_id).status, 200);
  const std::string service_serial = t.ServedSerial("");
  EXPECT_EQ(t.ServedSerial(std::string("svc.") + kBase), service_serial);
  EXPECT_TRUE(t.Get(JsonString(own.json, "id")).at("certificate").is_null());
}

TEST(AcmeTest, WildcardOverDns01ThroughTheCnameDelegation) {
  AcmeTopology t;
  json::value wild = t.CreateManaged("*.apps.customer.test");
  ASSERT_FALSE(JsonString(wild, "acme_challenge_cname_target").empty()) << json::serialize(wild);
  t.AddRecords(wild);
  const std::string cert_id = t.WaitForCertificate(JsonString(wild, "id"), seconds(90));
  ASSERT_FALSE(cert_id.empty());
  ExpectIssued(t, cert_id, "*.apps.customer.test", "ecdsa");
  const std::string serial = JsonString(t.Certificate(cert_id), "serial_number");
  EXPECT_TRUE(
      Eventually([&] { return t.ServedSerial("one.apps.customer.test") == serial; }, seconds(5)));
}

TEST(AcmeTest, MissingCnameIsADnsErrorNamingTheRecordUntilItAppears) {
  AcmeTopology t;
  json::value d = t.CreateManaged("late.customer.test");
  const std::string id = JsonString(d, "id");
  const std::string target = JsonString(d, "cname_target");
  json::value job;
  ASSERT_TRUE(Eventually(
      [&] {
        auto j = ProvisioningJob(t.Get(id));
        if (!j || JsonString(*j, "error_code") != "DNS_ERROR") return false;
        job = *j;
        return true;
      },
      seconds(20)))
      << json::serialize(t.Get(id));
  const std::string msg = JsonString(job, "msg");
  EXPECT_NE(msg.find("late.customer.test"), std::string::npos) << msg;
  EXPECT_NE(msg.find(target), std::string::npos) << msg;
  EXPECT_NE(msg.find("CNAME"), std::string::npos) << msg;
  EXPECT_FALSE(JsonString(job, "retries_at").empty());
  EXPECT_FALSE(JsonString(job, "started_at").empty());
  EXPECT_TRUE(t.Get(id).as_object().at("certificate").is_null());
  // The failing domain, and the failed attempts, in the metrics.
  const MetricSamples failing = ScrapeMetrics(t.Api());
  EXPECT_GE(MetricStarting(failing,
                           "certgate_managed_domain_failures{domain=\"late.customer.test\","
                           "error_code=\"DNS_ERROR\"}")
                .value_or(0),
            1);
  EXPECT_GE(
      MetricStarting(failing, "certgate_acme_orders_total{outcome=\"dns_error\"}").value_or(0), 1);

  // A CNAME pointing elsewhere is named as such.
  t.customer().SetCname("late.customer.test", "elsewhere.example.test");
  ASSERT_TRUE(Eventually(
      [&] {
        auto j = ProvisioningJob(t.Get(id));
        return j && JsonString(*j, "msg").find("elsewhere.example.test") != std::string::npos;
      },
      seconds(20)))
      << json::serialize(t.Get(id));

  // The right record: the certificate arrives with nothing else done.
  t.customer().ClearCname("late.customer.test");
  t.AddRecords(d);
  const std::string cert_id = t.WaitForCertificate(id, seconds(60));
  ASSERT_FALSE(cert_id.empty());
  ExpectIssued(t, cert_id, "late.customer.test", "ecdsa");
  // Issued: counted, the certificate among the managed ones, the requests
  // to the CA by endpoint, and the domain no longer failing.
  MetricSamples issued;
  EXPECT_TRUE(Eventually(
      [&] {
        issued = ScrapeMetrics(t.Api());
        return MetricStarting(issued, "certgate_certificates{source=\"managed\"}") == 1;
      },
      seconds(5)));
  EXPECT_GE(MetricStarting(issued, "certgate_acme_orders_total{outcome=\"issued\"}").value_or(0),
            1);
  EXPECT_GE(
      MetricStarting(issued, "certgate_acme_requests_total{endpoint=\"newOrder\",code=\"201\"}")
          .value_or(0),
      1);
  EXPECT_GE(
      MetricStarting(issued, "certgate_acme_request_duration_seconds_count{endpoint=\"finalize\"}")
          .value_or(0),
      1);
  EXPECT_FALSE(
      MetricStarting(issued, "certgate_managed_domain_failures{domain=\"late.customer.test\"")
          .has_value());
}

// Whether the domain's job has an order and its key stored, read from the
// store's file (the API does not show order URLs).
bool OrderStored(AcmeTopology& t, const std::string& domain_id) {
  const std::filesystem::path db = t.server().data_dir() / "certgate.db";
  return RunCommand({"/usr/bin/sqlite3", db.string(),
                     "SELECT order_url <> '' AND sealed_key IS NOT NULL FROM provisioning_jobs "
                     "WHERE domain_id = '" + domain_id + "'"})
      .out.starts_with("1");
}

TEST(AcmeTest, CaDownMidOrderShowsTheFailureAndRetriesUntilItIsBack) {
  AcmeTopology t(PeerOptions{.relay_http01 = true});
  t.relay().Hold();  // the CA's check waits: the order stays in flight
  json::value d = t.CreateManaged("outage.customer.test");
  t.AddRecords(d);
  const std::string id = JsonString(d, "id");
  ASSERT_TRUE(Eventually([&] { return t.relay().waiting() > 0; }, seconds(30)))
      << json::serialize(t.Get(id));
  ASSERT_TRUE(OrderStored(t, id));
  t.pebble().Stop();  // mid-order
  t.relay().Release();
  json::value job;
  ASSERT_TRUE(Eventually(
      [&] {
        auto j = ProvisioningJob(t.Get(id));
        if (!j || JsonString(*j, "error_code") != "INTERNAL_ERROR") return false;
        job = *j;
        return true;
      },
      seconds(30)))
      << json::serialize(t.Get(id));
  EXPECT_FALSE(JsonString(job, "retries_at").empty()) << json::serialize(job);
  EXPECT_NE(JsonString(job, "msg").find("could not reach the certificate authority"),
            std::string::npos)
      << json::serialize(job);
  EXPECT_TRUE(t.Get(id).as_object().at("certificate").is_null());

  // Pebble comes back with no memory of anything (the order, the account,
  // its root): certgate registers again, orders again, and gets it.
  t.pebble().Start();
  const std::string cert_id = t.WaitForCertificate(id, seconds(60));
  ASSERT_FALSE(cert_id.empty());
  ExpectIssued(t, cert_id, "outage.customer.test", "ecdsa");
}

TEST(AcmeTest, SigkillMidOrderResumesWithoutLosingTheKey) {
  AcmeTopology t(PeerOptions{.relay_http01 = true});
  t.relay().Hold();  // the CA's check waits: the order stays in flight
  json::value d = t.CreateManaged("crash.customer.test");
  t.AddRecords(d);
  const std::string id = JsonString(d, "id");
  ASSERT_TRUE(Eventually([&] { return t.relay().waiting() > 0; }, seconds(30)))
      << json::serialize(t.Get(id));
  t.server().Kill();
  // Killed mid-order: the job, its order and its sealed key are on disk.
  ASSERT_TRUE(OrderStored(t, id));
  ASSERT_NO_FATAL_FAILURE(t.RestartCertgate());
  t.relay().Release();
  const std::string cert_id = t.WaitForCertificate(id, seconds(90));
  ASSERT_FALSE(cert_id.empty());
  ExpectIssued(t, cert_id, "crash.customer.test", "ecdsa");
  const std::string serial = JsonString(t.Certificate(cert_id), "serial_number");
  EXPECT_TRUE(Eventually([&] { return t.ServedSerial("crash.customer.test") == serial; },
                         seconds(5)));
  // Exactly one certificate for it, and every sealed key still opens.
  EXPECT_EQ(CountCertificates(t.Api()), 1u);
  RunResult verify = t.server().Admin({"keys", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find(", 0 failed"), std::string::npos) << verify.out;
}

TEST(AcmeTest, RenewsBeforeExpiryWithoutDroppingConnections) {
  // 30-second certificates renew at about 20 s.
  AcmeTopology t(PeerOptions{.validity_seconds = 30});
  json::value d = t.CreateManaged("renew.customer.test");
  t.AddRecords(d);
  const std::string id = JsonString(d, "id");
  const std::string first = t.WaitForCertificate(id, seconds(60));
  ASSERT_FALSE(first.empty());
  const std::string first_serial = JsonString(t.Certificate(first), "serial_number");
  ASSERT_TRUE(Eventually([&] { return t.ServedSerial("renew.customer.test") == first_serial; },
                         seconds(5)));
  // A connection made on the old certificate.
  std::string error;
  auto held = TlsClient::Connect(t.server().https_port(),
                                 TlsClientOptions{.sni = "renew.customer.test"}, &error);
  ASSERT_NE(held, nullptr) << error;
  EXPECT_EQ(held->PeerSerial(), first_serial);
  EXPECT_NE(held->Http("GET", "/", "renew.customer.test").status, 0);

  const std::string first_not_after = JsonString(t.Certificate(first), "not_after");
  const std::string second = t.WaitForCertificate(id, seconds(45), first);
  ASSERT_FALSE(second.empty());
  // Renewed before the first one expired.
  auto expiry = ParseRfc3339(first_not_after);
  ASSERT_TRUE(expiry.has_value()) << first_not_after;
  EXPECT_LT(std::chrono::system_clock::now(), *expiry);
  ExpectIssued(t, second, "renew.customer.test", "ecdsa");
  const std::string second_serial = JsonString(t.Certificate(second), "serial_number");
  EXPECT_NE(second_serial, first_serial);
  EXPECT_TRUE(Eventually([&] { return t.ServedSerial("renew.customer.test") == second_serial; },
                         seconds(5)));
  // The held connection still works, and the replaced certificate is gone.
  auto reply = held->Http("GET", "/", "renew.customer.test");
  EXPECT_NE(reply.status, 0) << reply.error;
  EXPECT_EQ(Call(t.Api(), verb::get, "/tls_certificates/" + first).status, 404);
}

// The alerts of a managed domain's life, each once and signed: issued; its
// CNAME gone at renewal time; the renewal failing with under a third of the
// certificate's life left; renewed once the CNAME is back. The failed
// renewal shows in /metrics as well.
TEST(AcmeTest, AlertsTellIssuedAFailingRenewalAndRenewedOnceEach) {
  constexpr char kSecret[] = "acme-alerts-key";
  WebhookReceiver receiver;
  // 30-second certificates renew at about 20 s.
  AcmeTopology t(PeerOptions{
      .validity_seconds = 30,
      .extra_args = {"--notify-webhook", receiver.url(), "--notify-scan-interval", "1",
                     "--notify-retry-min", "1"},
      .env = {{"CERTGATE_NOTIFY_WEBHOOK_SECRET", kSecret}}});
  json::value d = t.CreateManaged("alerted.customer.test");
  t.AddRecords(d);
  const std::string id = JsonString(d, "id");
  const std::string first = t.WaitForCertificate(id, seconds(60));
  ASSERT_FALSE(first.empty());
  // The customer removes the CNAME: the renewal fails.
  t.customer().ClearCname("alerted.customer.test");

  // Received: type -> bodies; every one signed, none twice.
  auto received = [&] {
    std::map<std::string, std::vector<json::object>> out;
    for (const auto& post : receiver.posts()) {
      EXPECT_EQ(post.headers.at("certgate-signature"), notify::Signature(kSecret, post.body));
      json::object body = json::parse(post.body).as_object();
      out[std::string(body.at("type").as_string())].push_back(std::move(body));
    }
    return out;
  };
  ASSERT_TRUE(Eventually([&] { return received().count("certificate.renewal_failing") > 0; },
                         seconds(60)))
      << json::serialize(t.Get(id)) << " received " << receiver.posts().size();
  const MetricSamples failing = ScrapeMetrics(t.Api());
  EXPECT_GE(MetricStarting(failing,
                           "certgate_managed_domain_failures{domain=\"alerted.customer.test\","
                           "error_code=\"DNS_ERROR\"}")
                .value_or(0),
            2);
  EXPECT_GE(
      MetricStarting(failing, "certgate_acme_orders_total{outcome=\"dns_error\"}").value_or(0),
      2);

  t.AddRecords(d);
  const std::string second = t.WaitForCertificate(id, seconds(60), first);
  ASSERT_FALSE(second.empty());
  ASSERT_TRUE(Eventually([&] { return received().count("certificate.renewed") > 0; }, seconds(30)));
  // A few more scans: nothing is said twice.
  std::this_thread::sleep_for(seconds(3));
  auto got = received();
  ASSERT_EQ(got["certificate.issued"].size(), 1u);
  EXPECT_EQ(got["certificate.issued"][0].at("data").at("certificate").at("id").as_string(), first);
  EXPECT_EQ(got["certificate.issued"][0].at("data").at("domain").at("domain").as_string(),
            "alerted.customer.test");
  ASSERT_EQ(got["domain.cname_missing"].size(), 1u);
  EXPECT_NE(std::string(got["domain.cname_missing"][0].at("data").at("msg").as_string())
                .find("CNAME"),
            std::string::npos);
  ASSERT_EQ(got["certificate.renewal_failing"].size(), 1u);
  const auto& failing_data = got["certificate.renewal_failing"][0].at("data").as_object();
  EXPECT_EQ(failing_data.at("certificate").at("id").as_string(), first);
  EXPECT_EQ(failing_data.at("error_code").as_string(), "DNS_ERROR");
  EXPECT_GE(failing_data.at("failures").as_int64(), 2);
  ASSERT_EQ(got["certificate.renewed"].size(), 1u);
  EXPECT_EQ(got["certificate.renewed"][0].at("data").at("certificate").at("id").as_string(),
            second);
  EXPECT_EQ(got.size(), 4u) << "no other kind of alert";
}

// --api-domain: the API is served over TLS for its own name with a
// certificate from Pebble, which certgate renews like any other.
TEST(AcmeTest, TheApiOnItsOwnDomainGetsACertificateFromTheCaAndRenewsIt) {
  constexpr char kApiName[] = "api.customer.test";
  // 30-second certificates renew at about 20 s.
  AcmeTopology t(
      PeerOptions{.validity_seconds = 30, .extra_args = {"--api-domain", kApiName}});
  // The operator points the name at certgate (an A record, no CNAME).
  t.customer().AddA(kApiName, "127.0.0.1");
  const std::string api_url = t.server().api_url();
  ASSERT_EQ(api_url.rfind("https://127.0.0.1:", 0), 0u) << api_url;
  const std::string port = api_url.substr(std::string("https://127.0.0.1:").size());
  const std::filesystem::path roots = t.dir() / "pebble-roots.pem";
  {
    std::ofstream(roots) << t.pebble().IssuingRootsPem();
  }
  // curl trusting Pebble's roots only, for the name, at the API's port.
  auto curl = [&](const std::string& path, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        "/usr/bin/curl", "-sS", "--max-time", "5", "--cacert", roots.string(), "--resolve",
        std::string(kApiName) + ":" + port + ":127.0.0.1", "-H",
        "Authorization: Bearer " + t.server().api_key(), "-H", "Ngrok-Version: 2", "-o",
        "/dev/null", "-w", "%{http_code}"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("https://" + std::string(kApiName) + ":" + port + path);
    return RunCommand(argv);
  };
  auto served_serial = [&] {
    std::string error;
    auto tls = TlsClient::Connect(static_cast<uint16_t>(std::stoi(port)),
                                  TlsClientOptions{.sni = kApiName}, &error);
    return tls ? tls->PeerSerial() : "handshake failed: " + error;
  };
  // Self-signed until the CA's certificate arrives, then the CA's.
  RunResult verified;
  ASSERT_TRUE(Eventually(
      [&] {
        verified = curl("/tls_certificates");
        return verified.exit_code == 0;
      },
      seconds(60)))
      << verified.err;
  EXPECT_EQ(verified.out, "200") << "the API itself answers over its domain";
  const std::string first = served_serial();
  ASSERT_EQ(first.find("failed"), std::string::npos) << first;

  // Renewed like any other domain: a new certificate, still from the CA.
  std::string now;
  EXPECT_TRUE(Eventually(
      [&] {
        now = served_serial();
        return now != first && now.find("failed") == std::string::npos;
      },
      seconds(45)))
      << now;
  RunResult after = curl("/tls_certificates");
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(after.out, "200");
  // The name is the service's: no account may take it.
  EXPECT_EQ(curl("/reserved_domains", {"-H", "Content-Type: application/json", "--data",
                                       R"({"domain":"api.customer.test"})"})
                .out,
            "400");
}

TEST(AcmeTest, ChangingTheKeyTypeIssuesANewCertificateAndRemovingThePolicyStops) {
  AcmeTopology t;
  json::value d = t.CreateManaged("switch.customer.test", "ecdsa");
  t.AddRecords(d);
  const std::string id = JsonString(d, "id");
  const std::string first = t.WaitForCertificate(id, seconds(60));
  ASSERT_FALSE(first.empty());
  auto patched =
      Call(t.Api(), verb::patch, "/reserved_domains/" + id,
           json::object{{"certificate_management_policy",
                         json::object{{"private_key_type", "rsa"}}}});
  ASSERT_EQ(patched.status, 200) << patched.raw;
  // The old certificate serves until the new one is attached.
  EXPECT_EQ(JsonString(patched.json.as_object().at("certificate"), "id"), first);
  const std::string second = t.WaitForCertificate(id, seconds(90), first);
  ASSERT_FALSE(second.empty());
  ExpectIssued(t, second, "switch.customer.test", "rsa");

  auto removed =
      Call(t.Api(), verb::delete_, "/reserved_domains/" + id + "/certificate_management_policy");
  EXPECT_EQ(removed.status, 204) << removed.raw;
  json::value after = t.Get(id);
  EXPECT_TRUE(after.as_object().at("certificate_management_status").is_null());
  EXPECT_EQ(JsonString(after.as_object().at("certificate"), "id"), second) << "stays attached";
}

TEST(AcmeTest, ExternalAccountBindingFromFlagsAndEnvironment) {
  const std::string hmac = "c2VjcmV0LWhtYWMta2V5LWZvci1jZXJ0Z2F0ZS10ZXN0cw";
  AcmeTopology t(PeerOptions{.eab_keys = {{"kid-certgate", hmac}}});
  json::value d = t.CreateManaged("eab.customer.test");
  t.AddRecords(d);
  const std::string id = JsonString(d, "id");
  // Without a binding the CA refuses the account, and the status says so.
  ASSERT_TRUE(Eventually(
      [&] {
        auto j = ProvisioningJob(t.Get(id));
        return j && JsonString(*j, "msg").find("externalAccountRequired") != std::string::npos;
      },
      seconds(20)))
      << json::serialize(t.Get(id));
  // With it (the HMAC key from the environment, not the command line).
  ASSERT_NO_FATAL_FAILURE(t.RestartCertgate(
      std::vector<std::string>{"--acme-eab-kid", "kid-certgate"},
      {{"CERTGATE_ACME_EAB_HMAC_KEY", hmac}}));
  const std::string cert_id = t.WaitForCertificate(id, seconds(60));
  ASSERT_FALSE(cert_id.empty());
  ExpectIssued(t, cert_id, "eab.customer.test", "ecdsa");
  EXPECT_EQ(ReadFile(t.server().stderr_path()).find(hmac), std::string::npos)
      << "the HMAC key is a secret";
}

TEST(AcmeTest, AuthoritativeDnsAnswersEdgeNamesAndRefusesOthers) {
  AcmeTopology t;
  json::value d = t.CreateManaged("dns.customer.test");
  const std::string target = JsonString(d, "cname_target");
  const std::string port = std::to_string(t.dns_port());
  EXPECT_NE(t.server().process().Stdout().find("dns: 127.0.0.1:" + port), std::string::npos);
  auto dig = [&](const std::string& name, const std::string& type) {
    return RunCommand({"/usr/bin/dig", "@127.0.0.1", "-p", port, "+norecurse", "+time=2", "+tries=1",
                       name, type})
        .out;
  };
  EXPECT_NE(dig(target, "A").find("127.0.0.1"), std::string::npos);
  EXPECT_NE(dig(target, "A").find("flags: qr aa"), std::string::npos);
  EXPECT_NE(dig("nothing." + std::string(kBase), "A").find("NXDOMAIN"), std::string::npos);
  // The parent of every cname target exists (NODATA), or resolvers that
  // minimise query names would never ask for the targets.
  EXPECT_NE(dig("cname." + std::string(kBase), "A").find("status: NOERROR"), std::string::npos);
  EXPECT_NE(dig(kBase, "SOA").find("SOA"), std::string::npos);
  EXPECT_NE(dig("example.org", "A").find("REFUSED"), std::string::npos);

  // The HTTP listener: unknown or malformed ACME tokens are 404 (never a
  // redirect, which a CA would follow to the edge's https), anything else
  // is redirected to https.
  const std::string http = "http://127.0.0.1:" + std::to_string(t.server().http_port());
  auto status = [&](const std::string& path) {
    return RunCommand({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                       "Host: dns.customer.test", http + path})
        .out;
  };
  EXPECT_EQ(status("/.well-known/acme-challenge/unknownToken_1"), "404");
  EXPECT_EQ(status("/.well-known/acme-challenge/not%20a%20token"), "404");
  EXPECT_EQ(status("/somewhere"), "308");
}

}  // namespace
}  // namespace certgate::testing
