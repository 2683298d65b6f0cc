// The certificate manager above its seams: a fake Issuer, Solvers and
// Resolver, a fake clock, and the in-memory store (the master key file is
// in a temporary directory). Each test drives the scheduler synchronously
// (RunOnce), so nothing sleeps and time moves only when the test moves it.
#include "provision/certificate_manager.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "core/ids.h"
#include "core/testing/fake_clock.h"
#include "core/testing/temp_dir.h"
#include "pki/certificate.h"
#include "provision/testing/fake_issuer.h"
#include "provision/testing/fake_resolver.h"
#include "provision/testing/fake_solver.h"
#include "seal/key_vault.h"
#include "store/store.h"
#include "store/testing/memory_store.h"

namespace certgate::provision {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using testing::FakeIssuer;
using testing::FakeResolver;
using testing::FakeSolver;

// The store these tests run on: in memory (the store conformance suite holds
// it to the SQLite backend's contract).
std::unique_ptr<store::Store> OpenTestStore() {
  return std::make_unique<store::testing::MemoryStore>();
}

// Whole seconds, as the store keeps time.
Time WholeSecondsNow() { return FromUnixSeconds(ToUnixSeconds(std::chrono::system_clock::now())); }

Error Unreachable() { return MakeError(ErrorCode::kAcmeUnreachable, "connection refused"); }

class CertificateManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto vault = seal::KeyVault::Open(
        seal::MasterKeySource{std::nullopt, dir_.path() / "master.key", true});
    ASSERT_TRUE(vault.ok()) << vault.error().message;
    vault_ = std::move(vault).value();
    store::Account account{NewId("acct"), "Alice", store::Plan::kFree, clock_.Now()};
    ASSERT_TRUE(store_->CreateAccount(account).ok());
    account_id_ = account.id;
    options_.concurrency = 4;
    options_.runner.retry_min = seconds(10);
    options_.runner.retry_max = seconds(300);
  }

  std::unique_ptr<CertificateManager> MakeManager(Issuer& issuer,
                                                  const std::string& node_id = "node_a") {
    CertificateManagerOptions options = options_;
    options.node_id = node_id;
    auto manager = CertificateManager::Create(
        options, ProvisioningServices{*store_, *store_, *vault_, issuer, resolver_, http01_, dns01_,
                                      clock_, [this] { return random_; }});
    EXPECT_TRUE(manager.ok()) << manager.error().message;
    return std::move(manager).value();
  }

  // A domain of the account, managed with that key type.
  store::Domain AddManagedDomain(const std::string& name,
                                 store::KeyType key_type = store::KeyType::kEcdsa) {
    store::Domain d;
    d.id = NewId("rd");
    d.account_id = account_id_;
    d.created_at = clock_.Now();
    d.domain = name;
    d.policy = store::ManagementPolicy{store::Authority::kLetsEncrypt, key_type};
    EXPECT_TRUE(store_->InsertDomain(d).ok());
    return d;
  }

  store::Domain GetDomain(const std::string& id) {
    auto d = store_->GetDomain(account_id_, id);
    EXPECT_TRUE(d.ok() && d->has_value());
    return **d;
  }
  std::optional<store::ProvisioningJob> GetJob(const std::string& domain_id) {
    auto job = store_->GetProvisioningJobForDomain(domain_id);
    EXPECT_TRUE(job.ok());
    return *job;
  }
  pki::CertificateInfo AttachedCertificate(const store::Domain& d) {
    EXPECT_TRUE(d.certificate_id.has_value());
    auto cert = store_->GetCertificate(account_id_, d.certificate_id.value_or(""));
    EXPECT_TRUE(cert.ok() && cert->has_value());
    auto chain = pki::ParseStoredChain((*cert)->certificate_pem);
    EXPECT_TRUE(chain.ok());
    return pki::DescribeCertificate(chain->leaf());
  }
  int RunOnce(CertificateManager& manager) {
    auto attempted = manager.RunOnce();
    EXPECT_TRUE(attempted.ok()) << attempted.error().message;
    return attempted.ok() ? *attempted : -1;
  }

  certgate::testing::TempDir dir_{"provision"};
  std::unique_ptr<store::Store> store_ = OpenTestStore();
  std::unique_ptr<seal::KeyVault> vault_;
  certgate::testing::FakeClock clock_{WholeSecondsNow()};
  FakeIssuer issuer_;
  FakeResolver resolver_;
  FakeSolver http01_;
  FakeSolver dns01_;
  double random_ = 0.0;  // what every draw of jitter returns
  CertificateManagerOptions options_;
  std::string account_id_;
};

TEST_F(CertificateManagerTest, IssuesAndAttachesACertificateForANewManagedDomain) {
  auto manager = MakeManager(issuer_);
  const store::Domain d = AddManagedDomain("www.example.com");

  EXPECT_EQ(RunOnce(*manager), 1);

  ASSERT_EQ(issuer_.calls().size(), 1u);
  EXPECT_EQ(issuer_.calls()[0].domain, "www.example.com");
  EXPECT_EQ(issuer_.calls()[0].challenge_type, ChallengeType::kHttp01);
  EXPECT_EQ(issuer_.calls()[0].key_type, EVP_PKEY_EC);
  ASSERT_EQ(http01_.presented().size(), 1u);
  EXPECT_EQ(http01_.presented()[0].identifier, "www.example.com");
  EXPECT_TRUE(dns01_.presented().empty());
  const store::Domain after = GetDomain(d.id);
  EXPECT_TRUE(after.certificate_id.has_value());
  EXPECT_EQ(after.issued_key_type, store::KeyType::kEcdsa);
  EXPECT_FALSE(GetJob(d.id).has_value());
  // Nothing is due any more.
  EXPECT_EQ(RunOnce(*manager), 0);
  EXPECT_EQ(issuer_.calls().size(), 1u);
}

TEST_F(CertificateManagerTest, RetriesAfterExponentialBackoffUpToTheMaximum) {
  auto manager = MakeManager(issuer_);
  const store::Domain d = AddManagedDomain("www.example.com");
  const seconds expected[] = {seconds(10),  seconds(20),  seconds(40), seconds(80),
                              seconds(160), seconds(300), seconds(300)};
  for (size_t i = 0; i < std::size(expected); ++i) {
    SCOPED_TRACE(i);
    issuer_.failures.push_back(Unreachable());
    const Time started = clock_.Now();
    ASSERT_EQ(RunOnce(*manager), 1);
    auto job = GetJob(d.id);
    ASSERT_TRUE(job.has_value());
    EXPECT_EQ(job->failures, static_cast<int>(i + 1));
    EXPECT_EQ(job->next_run_at - started, expected[i]);
    EXPECT_EQ(job->retries_at, job->next_run_at);
    EXPECT_EQ(job->error_code, "INTERNAL_ERROR");
    EXPECT_EQ(job->msg, "could not reach the certificate authority: connection refused");
    // Not a second earlier.
    clock_.Set(job->next_run_at - seconds(1));
    EXPECT_EQ(RunOnce(*manager), 0);
    clock_.Set(job->next_run_at);
  }
  // Every retry resumed the order the first attempt made.
  const auto calls = issuer_.calls();
  ASSERT_EQ(calls.size(), std::size(expected));
  EXPECT_EQ(calls[0].resumed_order_url, "");
  for (size_t i = 1; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].resumed_order_url, "https://ca.test/order/1");
  }
  // Then it succeeds, and the job is gone.
  EXPECT_EQ(RunOnce(*manager), 1);
  EXPECT_FALSE(GetJob(d.id).has_value());
  EXPECT_TRUE(GetDomain(d.id).certificate_id.has_value());
}

TEST_F(CertificateManagerTest, BackoffJitterAddsUpToAQuarter) {
  random_ = 0.5;  // an eighth more, then rounding half up
  auto manager = MakeManager(issuer_);
  const store::Domain d = AddManagedDomain("www.example.com");
  const seconds expected[] = {seconds(11), seconds(23), seconds(45), seconds(90),
                              seconds(180), seconds(338)};
  for (size_t i = 0; i < std::size(expected); ++i) {
    SCOPED_TRACE(i);
    issuer_.failures.push_back(Unreachable());
    const Time started = clock_.Now();
    ASSERT_EQ(RunOnce(*manager), 1);
    auto job = GetJob(d.id);
    ASSERT_TRUE(job.has_value());
    EXPECT_EQ(job->next_run_at - started, expected[i]);
    clock_.Set(job->next_run_at);
  }
}

TEST_F(CertificateManagerTest, ACaRetryAfterLongerThanTheBackoffWins) {
  auto manager = MakeManager(issuer_);
  const store::Domain d = AddManagedDomain("www.example.com");
  Error limited = MakeError(ErrorCode::kAcmeRateLimited, "too many orders");
  limited.retry_after = hours(2);
  issuer_.failures.push_back(limited);
  ASSERT_EQ(RunOnce(*manager), 1);
  auto job = GetJob(d.id);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->next_run_at - clock_.Now(), hours(2));
}

TEST_F(CertificateManagerTest, RenewsAtTwoThirdsOfTheLifetimeWithoutRenewalInformation) {
  issuer_.lifetime = hours(24 * 90);
  auto manager = MakeManager(issuer_);
  const store::Domain d = AddManagedDomain("www.example.com");
  ASSERT_EQ(RunOnce(*manager), 1);

  const store::Domain issued = GetDomain(d.id);
  const pki::CertificateInfo info = AttachedCertificate(issued);
  EXPECT_EQ(info.not_after - info.not_before, hours(24 * 90));
  ASSERT_TRUE(issued.renews_at.has_value());
  EXPECT_EQ(*issued.renews_at, info.not_before + hours(24 * 60));

  // Due at renews_at, not a second before; the job is a renewal.
  clock_.Set(*issued.renews_at - seconds(1));
  EXPECT_EQ(RunOnce(*manager), 0);
  EXPECT_FALSE(GetJob(d.id).has_value());
  clock_.Set(*issued.renews_at);
  issuer_.failures.push_back(Unreachable());
  EXPECT_EQ(RunOnce(*manager), 1);
  auto job = GetJob(d.id);
  ASSERT_TRUE(job.has_value());
  EXPECT_TRUE(job->renewal);
  EXPECT_EQ(issuer_.calls().size(), 2u);
}

TEST_F(CertificateManagerTest, JitterRenewsUpToAThirtiethOfTheLifetimeEarlier) {
  random_ = 0.5;
  issuer_.lifetime = hours(24 * 90);
  auto manager = MakeManager(issuer_);
  const store::Domain d = AddManagedDomain("www.example.com");
  ASSERT_EQ(RunOnce(*manager), 1);
  const store::Domain issued = GetDomain(d.id);
  const pki::CertificateInfo info = AttachedCertificate(issued);
  ASSERT_TRUE(issued.renews_at.has_value());
  // 60 days, less half of 3 days.
  EXPECT_EQ(*issued.renews_at, info.not_before + hours(24 * 60) - hours(36));
}

TEST_F(CertificateManagerTest, RenewsInsideTheCasRenewalWindow) {
  random_ = 0.5;
  const Time start = clock_.Now() + hours(24 * 10);
  issuer_.renewal_window = RenewalWindow{start, start + hours(48)};
  auto manager = MakeManager(issuer_);
  const store::Domain d = AddManagedDomain("www.example.com");
  ASSERT_EQ(RunOnce(*manager), 1);
  const store::Domain issued = GetDomain(d.id);
  ASSERT_TRUE(issued.renews_at.has_value());
  EXPECT_EQ(*issued.renews_at, start + hours(24));

  clock_.Set(start + hours(24));
  EXPECT_EQ(RunOnce(*manager), 1);
  EXPECT_EQ(issuer_.calls().size(), 2u);
}

TEST_F(CertificateManagerTest, ARenewalWindowInThePastRenewsNow) {
  const Time start = clock_.Now() - hours(48);
  issuer_.renewal_window = RenewalWindow{start, start + hours(24)};
  auto manager = MakeManager(issuer_);
  const store::Domain d = AddManagedDomain("www.example.com");
  ASSERT_EQ(RunOnce(*manager), 1);
  EXPECT_EQ(GetDomain(d.id).renews_at, clock_.Now());
}

TEST_F(CertificateManagerTest, RemovingThePolicyDropsAFailingJob) {
  auto manager = MakeManager(issuer_);
  store::Domain d = AddManagedDomain("www.example.com");
  issuer_.failures.push_back(Unreachable());
  ASSERT_EQ(RunOnce(*manager), 1);
  ASSERT_TRUE(GetJob(d.id).has_value());

  d.policy.reset();
  ASSERT_TRUE(store_->UpdateDomain(d).ok());
  clock_.Advance(hours(1));
  EXPECT_EQ(RunOnce(*manager), 0);
  EXPECT_FALSE(GetJob(d.id).has_value());
  EXPECT_EQ(issuer_.calls().size(), 1u);
}

TEST_F(CertificateManagerTest, RemovingThePolicyDuringAnAttemptStopsItsWrites) {
  auto manager = MakeManager(issuer_);
  store::Domain d = AddManagedDomain("www.example.com");
  issuer_.during_issue = [&] {
    store::Domain unmanaged = d;
    unmanaged.policy.reset();
    ASSERT_TRUE(store_->UpdateDomain(unmanaged).ok());
  };
  ASSERT_EQ(RunOnce(*manager), 1);
  // The attempt's next step found its job gone: it neither presented a
  // challenge nor attached a certificate, nor recorded a failure.
  EXPECT_TRUE(http01_.presented().empty());
  EXPECT_FALSE(GetJob(d.id).has_value());
  EXPECT_FALSE(GetDomain(d.id).certificate_id.has_value());
}

TEST_F(CertificateManagerTest, ALostLeaseStopsTheRunnersWrites) {
  auto manager_a = MakeManager(issuer_, "node_a");
  FakeIssuer issuer_b;
  auto manager_b = MakeManager(issuer_b, "node_b");
  const store::Domain d = AddManagedDomain("www.example.com");
  // While node a's attempt is at the CA, its lease runs out and node b
  // claims the job, and fails with it.
  issuer_.during_issue = [&] {
    clock_.Advance(options_.runner.lease + seconds(1));
    issuer_b.failures.push_back(MakeError(ErrorCode::kAcmeProblem, "node b's failure"));
    EXPECT_EQ(RunOnce(*manager_b), 1);
  };
  ASSERT_EQ(RunOnce(*manager_a), 1);

  // Node a stopped at its next step: it answered no challenge (only b did),
  // attached nothing, and did not overwrite b's record of the job.
  EXPECT_EQ(issuer_b.calls().size(), 1u);
  EXPECT_EQ(http01_.presented().size(), 1u);
  EXPECT_FALSE(GetDomain(d.id).certificate_id.has_value());
  auto job = GetJob(d.id);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->lease_owner, "node_b");
  EXPECT_EQ(job->failures, 1);
  EXPECT_EQ(job->msg, "node b's failure");
}

TEST_F(CertificateManagerTest, WaitingForTheCaRenewsTheLease) {
  options_.runner.lease = seconds(3);  // renewed every second of waiting
  auto manager_a = MakeManager(issuer_, "node_a");
  FakeIssuer issuer_b;
  auto manager_b = MakeManager(issuer_b, "node_b");
  const store::Domain d = AddManagedDomain("www.example.com");
  // Node a waits for the CA twice, two seconds of its clock passing before
  // each wait: past the lease it claimed, but not past the renewals.
  // Without the renewals, b would take the job at the second wait.
  issuer_.pauses = 2;
  int claimed_by_b = -1;
  issuer_.before_pause = [&] {
    clock_.Advance(seconds(2));
    claimed_by_b = RunOnce(*manager_b);
    EXPECT_EQ(claimed_by_b, 0) << "node b took the job of a runner that was still waiting";
  };
  ASSERT_EQ(RunOnce(*manager_a), 1);
  EXPECT_EQ(claimed_by_b, 0);
  EXPECT_TRUE(issuer_b.calls().empty());
  EXPECT_TRUE(GetDomain(d.id).certificate_id.has_value()) << "node a finished the order";
}

TEST_F(CertificateManagerTest, NeedsANodeId) {
  ProvisioningServices services{*store_, *store_, *vault_, issuer_, resolver_,
                                http01_, dns01_,  clock_,  {}};
  auto manager = CertificateManager::Create(options_, services);
  ASSERT_FALSE(manager.ok());
  EXPECT_EQ(manager.error().code, ErrorCode::kConfigInvalid);
}

// Gives the domain an issued certificate of key_type, as a finished job of
// that type would have.
void AttachIssuedCertificate(store::Store& store, const store::Domain& d,
                             store::KeyType key_type, Time now) {
  store::ProvisioningJob job;
  job.id = NewId("job");
  job.domain_id = d.id;
  job.account_id = d.account_id;
  job.domain = d.domain;
  job.key_type = key_type;
  job.started_at = now;
  job.next_run_at = now;
  ASSERT_TRUE(*store.InsertProvisioningJob(job));
  auto claimed = store.ClaimDueJobs("node_setup", now, now + hours(1), 1);
  ASSERT_TRUE(claimed.ok() && claimed->size() == 1u);
  store::Certificate cert;
  cert.id = NewId("cert");
  cert.account_id = d.account_id;
  cert.created_at = now;
  cert.certificate_pem = "-";
  cert.issued_at = now;
  cert.not_after = now + hours(24 * 90);
  cert.private_key = store::SealedKey{1, {1, 2, 3}};
  ASSERT_TRUE(*store.CompleteProvisioningJob((*claimed)[0], cert, now + hours(24 * 60), {}));
}

TEST_F(CertificateManagerTest, AKeyTypeChangeOrdersANewCertificate) {
  auto manager = MakeManager(issuer_);
  // Issued as RSA (made directly: generating RSA keys takes seconds).
  store::Domain d = AddManagedDomain("www.example.com", store::KeyType::kRsa);
  AttachIssuedCertificate(*store_, d, store::KeyType::kRsa, clock_.Now());
  const std::string rsa_certificate = GetDomain(d.id).certificate_id.value_or("");
  EXPECT_EQ(RunOnce(*manager), 0);  // not due

  d.policy = store::ManagementPolicy{store::Authority::kLetsEncrypt, store::KeyType::kEcdsa};
  ASSERT_TRUE(store_->UpdateDomain(d).ok());
  issuer_.failures.push_back(Unreachable());
  ASSERT_EQ(RunOnce(*manager), 1);
  auto job = GetJob(d.id);
  ASSERT_TRUE(job.has_value());
  EXPECT_FALSE(job->renewal);
  EXPECT_EQ(job->key_type, store::KeyType::kEcdsa);

  clock_.Set(job->next_run_at);
  ASSERT_EQ(RunOnce(*manager), 1);
  const auto calls = issuer_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].resumed_order_url, "");
  EXPECT_EQ(calls[0].key_type, EVP_PKEY_EC);
  const store::Domain after = GetDomain(d.id);
  EXPECT_EQ(after.issued_key_type, store::KeyType::kEcdsa);
  EXPECT_NE(after.certificate_id.value_or(""), rsa_certificate);
}

TEST_F(CertificateManagerTest, AKeyTypeChangeDropsTheJobOfTheOldType) {
  auto manager = MakeManager(issuer_);
  store::Domain d = AddManagedDomain("www.example.com", store::KeyType::kRsa);
  store::ProvisioningJob stale;
  stale.id = NewId("job");
  stale.domain_id = d.id;
  stale.account_id = d.account_id;
  stale.domain = d.domain;
  stale.key_type = store::KeyType::kRsa;
  stale.started_at = clock_.Now();
  stale.next_run_at = clock_.Now();
  ASSERT_TRUE(*store_->InsertProvisioningJob(stale));

  d.policy = store::ManagementPolicy{store::Authority::kLetsEncrypt, store::KeyType::kEcdsa};
  ASSERT_TRUE(store_->UpdateDomain(d).ok());
  // The RSA job is claimed and dropped without ordering...
  ASSERT_EQ(RunOnce(*manager), 1);
  EXPECT_TRUE(issuer_.calls().empty());
  EXPECT_FALSE(GetJob(d.id).has_value());
  // ...and the next pass orders an ECDSA certificate.
  ASSERT_EQ(RunOnce(*manager), 1);
  ASSERT_EQ(issuer_.calls().size(), 1u);
  EXPECT_EQ(issuer_.calls()[0].key_type, EVP_PKEY_EC);
  EXPECT_EQ(GetDomain(d.id).issued_key_type, store::KeyType::kEcdsa);
}

TEST_F(CertificateManagerTest, WaitsForTheUsersCnameRecordsBeforeOrdering) {
  auto manager = MakeManager(issuer_);
  store::Domain d;
  d.id = NewId("rd");
  d.account_id = account_id_;
  d.created_at = clock_.Now();
  d.domain = "*.brand.example";
  d.policy = store::ManagementPolicy{};
  d.cname_target = "abc.cname.certgate.test";
  d.acme_challenge_cname_target = "abc.acme.certgate.test";
  ASSERT_TRUE(store_->InsertDomain(d).ok());

  ASSERT_EQ(RunOnce(*manager), 1);
  auto job = GetJob(d.id);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->error_code, "DNS_ERROR");
  EXPECT_NE(job->msg.find("*.brand.example CNAME abc.cname.certgate.test"), std::string::npos)
      << job->msg;
  EXPECT_TRUE(issuer_.calls().empty());

  resolver_.SetCname("*.brand.example", "abc.cname.certgate.test");
  resolver_.SetCname("_acme-challenge.brand.example", "abc.acme.certgate.test");
  clock_.Set(job->next_run_at);
  ASSERT_EQ(RunOnce(*manager), 1);
  ASSERT_EQ(issuer_.calls().size(), 1u);
  // A wildcard is validated by DNS-01 at the delegated name.
  EXPECT_EQ(issuer_.calls()[0].challenge_type, ChallengeType::kDns01);
  ASSERT_EQ(dns01_.presented().size(), 1u);
  EXPECT_EQ(dns01_.presented()[0].dns01_record_name, "abc.acme.certgate.test");
  EXPECT_EQ(dns01_.cleaned_up().size(), 1u);
  EXPECT_TRUE(http01_.presented().empty());
  EXPECT_TRUE(GetDomain(d.id).certificate_id.has_value());
}

}  // namespace
}  // namespace certgate::provision
