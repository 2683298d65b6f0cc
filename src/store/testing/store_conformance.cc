// The store conformance suite's fixture, and the records its tests make.
#include "store/testing/store_conformance.h"

#include <chrono>
#include <utility>

namespace certgate::store::testing {

void StoreConformanceTest::SetUp() {
  backend_ = GetParam()();
  ASSERT_NE(backend_, nullptr);
  auto store = backend_->Open();
  ASSERT_TRUE(store.ok()) << store.error().message;
  store_ = std::move(store).value();
  audit_ = AsNameOwnershipAudit(*store_);
  auto a = MakeAccount("Alice");
  auto b = MakeAccount("Bob", Plan::kPayg);
  ASSERT_TRUE(store_->CreateAccount(a).ok());
  ASSERT_TRUE(store_->CreateAccount(b).ok());
  alice_ = a.id;
  bob_ = b.id;
}

Certificate StoreConformanceTest::Insert(const std::string& account_id) {
  Certificate c = MakeCert(account_id);
  c.issued_at.reset();
  auto inserted = store_->InsertCertificate(c);
  EXPECT_TRUE(inserted.ok()) << inserted.error().message;
  return c;
}

Account MakeAccount(std::string name, Plan plan) {
  Account a;
  a.id = NewId("acct");
  a.name = std::move(name);
  a.plan = plan;
  a.created_at = FromUnixSeconds(1'700'000'000);
  return a;
}

Certificate MakeCert(const std::string& account_id, const std::string& id) {
  Certificate c;
  c.id = id;
  c.account_id = account_id;
  c.created_at = FromUnixSeconds(1'700'000'000 + static_cast<int64_t>(id.back()));
  c.description = "description of " + id;
  c.metadata = "{\"id\":\"" + id + "\"}";
  c.certificate_pem = "-----BEGIN CERTIFICATE-----\n";
  for (int i = 0; i < 60; ++i) c.certificate_pem += id + "\n";
  c.certificate_pem += "-----END CERTIFICATE-----\n";
  c.issued_at =
      id.back() % 2 == 0 ? std::optional<Time>(FromUnixSeconds(1'690'000'000)) : std::nullopt;
  c.not_after = FromUnixSeconds(1'800'000'000);
  c.subject_common_name = id + ".example.com";
  for (size_t i = id.size() > 10 ? id.size() - 10 : 0; i < id.size(); ++i) {
    constexpr char kHex[] = "0123456789abcdef";
    const auto byte = static_cast<unsigned char>(id[i]);
    c.serial_number += kHex[byte >> 4];
    c.serial_number += kHex[byte & 0xf];
  }
  c.not_before = FromUnixSeconds(1'600'000'000 + static_cast<int64_t>(id.back()));
  c.private_key.key_version = 1 + static_cast<uint32_t>(id[id.size() - 2]) % 3;
  for (int i = 0; i < 8; ++i) {
    for (char ch : id) c.private_key.blob.push_back(static_cast<uint8_t>(ch ^ i));
  }
  c.private_key.blob.push_back(0);  // embedded zero bytes survive
  c.private_key.blob.push_back(0xff);
  return c;
}

void ExpectSameCert(const Certificate& got, const Certificate& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.account_id, want.account_id);
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.description, want.description);
  EXPECT_EQ(got.metadata, want.metadata);
  EXPECT_EQ(got.certificate_pem, want.certificate_pem);
  EXPECT_EQ(got.issued_at, want.issued_at);
  EXPECT_EQ(got.not_after, want.not_after);
  EXPECT_EQ(got.subject_common_name, want.subject_common_name);
  EXPECT_EQ(got.serial_number, want.serial_number);
  EXPECT_EQ(got.not_before, want.not_before);
  EXPECT_EQ(got.private_key, want.private_key);
  EXPECT_EQ(got.owner_endpoint_id, want.owner_endpoint_id);
}

Domain MakeDomain(const std::string& account_id, const std::string& name) {
  Domain d;
  d.id = NewId("rd");
  d.account_id = account_id;
  d.created_at = FromUnixSeconds(1'700'000'500);
  d.description = "domain " + name;
  d.metadata = "{\"name\":\"" + name + "\"}";
  d.domain = name;
  return d;
}

void ExpectSameDomain(const Domain& got, const Domain& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.account_id, want.account_id);
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.description, want.description);
  EXPECT_EQ(got.metadata, want.metadata);
  EXPECT_EQ(got.domain, want.domain);
  EXPECT_EQ(got.certificate_id, want.certificate_id);
  EXPECT_EQ(got.policy, want.policy);
  EXPECT_EQ(got.cname_target, want.cname_target);
  EXPECT_EQ(got.acme_challenge_cname_target, want.acme_challenge_cname_target);
  EXPECT_EQ(got.resolves_to, want.resolves_to);
}

Endpoint MakeEndpoint(const Domain& domain, const std::string& host, uint16_t port) {
  Endpoint e;
  e.id = NewId("ep");
  e.account_id = domain.account_id;
  e.created_at = FromUnixSeconds(1'700'000'900);
  e.updated_at = e.created_at;
  e.description = "endpoint " + host;
  e.metadata = "{}";
  e.scheme = port == 443 ? "https" : "tls";
  e.host = host;
  e.port = port;
  e.url = port == 443 ? "https://" + host : "tls://" + host + ":" + std::to_string(port);
  e.upstream = "http://127.0.0.1:8080";
  e.domain_id = domain.id;
  return e;
}

void ExpectSameEndpoint(const Endpoint& got, const Endpoint& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.account_id, want.account_id);
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.updated_at, want.updated_at);
  EXPECT_EQ(got.description, want.description);
  EXPECT_EQ(got.metadata, want.metadata);
  EXPECT_EQ(got.url, want.url);
  EXPECT_EQ(got.scheme, want.scheme);
  EXPECT_EQ(got.host, want.host);
  EXPECT_EQ(got.port, want.port);
  EXPECT_EQ(got.upstream, want.upstream);
  EXPECT_EQ(got.traffic_policy, want.traffic_policy);
  EXPECT_EQ(got.traffic_policy_text, want.traffic_policy_text);
  EXPECT_EQ(got.type, want.type);
  EXPECT_EQ(got.bindings, want.bindings);
  EXPECT_EQ(got.pooling_enabled, want.pooling_enabled);
  EXPECT_EQ(got.domain_id, want.domain_id);
  EXPECT_EQ(got.policy_certificate_id, want.policy_certificate_id);
}

ProvisioningJob MakeJob(const Domain& d, Time now) {
  ProvisioningJob job;
  job.id = NewId("job");
  job.domain_id = d.id;
  job.account_id = d.account_id;
  job.domain = d.domain;
  job.key_type = d.policy ? d.policy->private_key_type : KeyType::kEcdsa;
  job.started_at = now;
  job.msg = "waiting to start";
  job.next_run_at = now;
  return job;
}

Certificate MakeIssued(const std::string& account_id) {
  Certificate c = MakeCert(account_id);
  c.issued_at = FromUnixSeconds(1'700'000'000);
  return c;
}

ProvisioningJob InsertAndClaimJob(Store& store, const std::string& account_id,
                                  const std::string& name, std::string_view owner, Time now) {
  Domain d = MakeDomain(account_id, name);
  d.policy = ManagementPolicy{};
  EXPECT_TRUE(store.InsertDomain(d).ok());
  EXPECT_TRUE(*store.InsertProvisioningJob(MakeJob(d, now)));
  auto claimed = store.ClaimDueJobs(owner, now, now + std::chrono::minutes(5), 10);
  EXPECT_TRUE(claimed.ok() && claimed->size() == 1u);
  return claimed.ok() && !claimed->empty() ? claimed->front() : ProvisioningJob{};
}

}  // namespace certgate::store::testing
