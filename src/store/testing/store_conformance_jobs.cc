// The store conformance suite: automatic certificates: provisioning jobs, ACME accounts, challenge answers.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/ids.h"
#include "store/store.h"
#include "store/testing/store_conformance.h"

namespace certgate::store::testing {
namespace {

using Status = DeleteOutcome::Status;

TEST_P(StoreConformanceTest, ManagedDomainsNeedJobsUntilAFreshCertificateOfTheirKeyType) {
  const Time now = FromUnixSeconds(1'750'000'000);
  Domain managed = MakeDomain(alice_, "auto.example.com");
  managed.policy = ManagementPolicy{Authority::kLetsEncrypt, KeyType::kEcdsa};
  Domain uploaded = MakeDomain(alice_, "byo.example.com");
  Certificate byo = Insert(alice_);
  uploaded.certificate_id = byo.id;
  ASSERT_TRUE(store_->InsertDomain(managed).ok());
  ASSERT_TRUE(store_->InsertDomain(uploaded).ok());

  auto need = store_->ListDomainsNeedingCertificates(now, 10);
  ASSERT_TRUE(need.ok()) << need.error().message;
  ASSERT_EQ(need->size(), 1u);
  EXPECT_EQ(need->front().id, managed.id);

  // One job per domain; a second is refused, and so is one for an unmanaged domain.
  ProvisioningJob job = MakeJob(managed, now);
  EXPECT_TRUE(*store_->InsertProvisioningJob(job));
  EXPECT_FALSE(*store_->InsertProvisioningJob(MakeJob(managed, now)));
  EXPECT_FALSE(*store_->InsertProvisioningJob(MakeJob(uploaded, now)));
  EXPECT_TRUE(store_->ListDomainsNeedingCertificates(now, 10)->empty()) << "it has a job";

  // Issued: attached with renews_at, the job gone, nothing needed until then.
  Certificate first = MakeIssued(alice_);
  const Time renews_at = now + std::chrono::hours(24 * 60);
  ASSERT_TRUE(*store_->CompleteProvisioningJob(job, first, renews_at, {}));
  auto got = store_->GetDomain(alice_, managed.id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->certificate_id, first.id);
  EXPECT_EQ((*got)->renews_at, renews_at);
  EXPECT_EQ((*got)->issued_key_type, KeyType::kEcdsa);
  EXPECT_FALSE(store_->GetProvisioningJobForDomain(managed.id)->has_value());
  EXPECT_TRUE(store_->ListDomainsNeedingCertificates(now, 10)->empty());
  EXPECT_EQ(store_->ListDomainsNeedingCertificates(renews_at, 10)->size(), 1u) << "renewal due";

  // Renewed: the new certificate replaces the old one, which is deleted.
  ProvisioningJob renewal = MakeJob(managed, renews_at);
  renewal.renewal = true;
  ASSERT_TRUE(*store_->InsertProvisioningJob(renewal));
  Certificate second = MakeIssued(alice_);
  ASSERT_TRUE(
      *store_->CompleteProvisioningJob(renewal, second, renews_at + std::chrono::hours(1), {}));
  EXPECT_EQ((*store_->GetDomain(alice_, managed.id))->certificate_id, second.id);
  EXPECT_FALSE(store_->GetCertificate(alice_, first.id)->has_value());

  // Another key type asked for: needed again at once, even before renews_at.
  Domain changed = **store_->GetDomain(alice_, managed.id);
  changed.policy->private_key_type = KeyType::kRsa;
  ASSERT_TRUE(*store_->UpdateDomain(changed));
  EXPECT_EQ((*store_->GetDomain(alice_, managed.id))->certificate_id, second.id)
      << "the old certificate serves until its replacement is attached";
  EXPECT_EQ(store_->ListDomainsNeedingCertificates(now, 10)->size(), 1u);

  // A job for the old key type cannot attach its certificate.
  ProvisioningJob stale = MakeJob(managed, now);
  stale.key_type = KeyType::kEcdsa;
  ASSERT_TRUE(*store_->InsertProvisioningJob(stale));
  EXPECT_FALSE(*store_->CompleteProvisioningJob(stale, MakeIssued(alice_), renews_at, {}));
  EXPECT_FALSE(store_->GetProvisioningJobForDomain(managed.id)->has_value()) << "dropped";
}

TEST_P(StoreConformanceTest, AScanMakesOneJobPerDueDomainAndNothingWhenNoneIsDue) {
  const Time now = FromUnixSeconds(1'750'000'000);
  std::vector<std::string> ids;
  for (const char* name : {"a.scan.example.com", "b.scan.example.com", "c.scan.example.com"}) {
    Domain d = MakeDomain(alice_, name);
    d.policy = ManagementPolicy{Authority::kLetsEncrypt, KeyType::kEcdsa};
    ASSERT_TRUE(store_->InsertDomain(d).ok());
    ids.push_back(d.id);
  }
  std::vector<std::string> asked;
  const JobStore::JobMaker make = [&](const Domain& d) {
    asked.push_back(d.id);
    return MakeJob(d, now);
  };
  auto first = store_->CreateDueJobs(now, 2, make);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->size(), 2u) << "at most the limit";
  auto second = store_->CreateDueJobs(now, 10, make);
  ASSERT_TRUE(second.ok()) << second.error().message;
  ASSERT_EQ(second->size(), 1u) << "only the domain left without a job";
  EXPECT_EQ(asked.size(), 3u) << "a domain with a job is not offered again";
  for (const std::string& id : ids) {
    auto job = store_->GetProvisioningJobForDomain(id);
    ASSERT_TRUE(job.ok() && job->has_value()) << id;
    EXPECT_EQ((*job)->domain_id, id);
  }
  EXPECT_TRUE(store_->CreateDueJobs(now, 10, make)->empty());
  EXPECT_EQ(asked.size(), 3u) << "nothing due: make is not called";
}

TEST_P(StoreConformanceTest, FailingJobsAreListedMostFailuresFirst) {
  const Time now = FromUnixSeconds(1'750'000'000);
  ProvisioningJob once = InsertAndClaimJob(*store_, alice_, "once.fail.example.com", kNodeA, now);
  ProvisioningJob twice = InsertAndClaimJob(*store_, bob_, "twice.fail.example.org", kNodeA, now);
  InsertAndClaimJob(*store_, alice_, "fine.fail.example.com", kNodeA, now);
  once.failures = 1;
  once.error_code = "DNS_ERROR";
  twice.failures = 2;
  twice.error_code = "INTERNAL_ERROR";
  ASSERT_TRUE(*store_->UpdateProvisioningJob(once, std::nullopt));
  ASSERT_TRUE(*store_->UpdateProvisioningJob(twice, std::nullopt));
  auto failing = store_->ListFailingJobs(10);
  ASSERT_TRUE(failing.ok()) << failing.error().message;
  ASSERT_EQ(failing->size(), 2u);
  EXPECT_EQ((*failing)[0].domain, "twice.fail.example.org");
  EXPECT_EQ((*failing)[0].failures, 2);
  EXPECT_EQ((*failing)[0].error_code, "INTERNAL_ERROR");
  EXPECT_EQ((*failing)[1].domain, "once.fail.example.com");
  EXPECT_EQ(store_->ListFailingJobs(1)->size(), 1u);
  EXPECT_EQ(store_->ListFailingJobs(0).error().code, ErrorCode::kInvalidPaging);
}

TEST_P(StoreConformanceTest, APolicyThatTakesOverLetsGoOfTheUploadedCertificate) {
  const Time now = FromUnixSeconds(1'750'000'000);
  Certificate uploaded = Insert(alice_);
  Domain d = MakeDomain(alice_, "takeover.example.com");
  d.certificate_id = uploaded.id;
  d.resolves_to = {"eu", "192.0.2.1:443"};
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  ExpectSameDomain(**store_->GetDomain(alice_, d.id), d);

  Domain managed = d;
  managed.policy = ManagementPolicy{Authority::kLetsEncrypt, KeyType::kRsa};
  managed.resolves_to.clear();
  ASSERT_TRUE(*store_->UpdateDomain(managed));
  Domain got = **store_->GetDomain(alice_, d.id);
  EXPECT_EQ(got.certificate_id, std::nullopt);
  EXPECT_EQ(got.policy, managed.policy);
  EXPECT_TRUE(got.resolves_to.empty());
  EXPECT_TRUE(store_->GetCertificate(alice_, uploaded.id)->has_value()) << "uploaded ones stay";
  auto due = store_->ListDomainsNeedingCertificates(now, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].id, d.id);

  // Once managed, an update that keeps the policy keeps the issued certificate.
  ProvisioningJob job = MakeJob(got, now);
  ASSERT_TRUE(*store_->InsertProvisioningJob(job));
  Certificate issued = MakeIssued(alice_);
  ASSERT_TRUE(*store_->CompleteProvisioningJob(job, issued, now + std::chrono::hours(1), {}));
  got = **store_->GetDomain(alice_, d.id);
  got.description = "renamed";
  got.policy->private_key_type = KeyType::kEcdsa;
  ASSERT_TRUE(*store_->UpdateDomain(got));
  EXPECT_EQ((**store_->GetDomain(alice_, d.id)).certificate_id, issued.id);
}

TEST_P(StoreConformanceTest, RemovingThePolicyStopsTheJobAndKeepsTheCertificate) {
  const Time now = FromUnixSeconds(1'750'000'000);
  Domain d = MakeDomain(alice_, "stop.example.com");
  d.policy = ManagementPolicy{Authority::kLetsEncrypt, KeyType::kEcdsa};
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  ProvisioningJob job = MakeJob(d, now);
  ASSERT_TRUE(*store_->InsertProvisioningJob(job));
  Certificate issued = MakeIssued(alice_);
  ASSERT_TRUE(*store_->CompleteProvisioningJob(job, issued, now + std::chrono::hours(1), {}));
  ProvisioningJob renewal = MakeJob(d, now);
  ASSERT_TRUE(*store_->InsertProvisioningJob(renewal));
  ASSERT_TRUE(store_->PutHttp01Challenge({"tok-1", "tok-1.thumb", renewal.id}).ok());

  Domain unmanaged = **store_->GetDomain(alice_, d.id);
  unmanaged.policy.reset();
  ASSERT_TRUE(*store_->UpdateDomain(unmanaged));
  auto got = **store_->GetDomain(alice_, d.id);
  EXPECT_EQ(got.certificate_id, issued.id) << "stays attached";
  EXPECT_EQ(got.renews_at, std::nullopt);
  EXPECT_FALSE(store_->GetProvisioningJobForDomain(d.id)->has_value());
  EXPECT_FALSE(store_->GetHttp01KeyAuthorization("tok-1")->has_value()) << "cascaded";
  EXPECT_FALSE(*store_->UpdateProvisioningJob(renewal, std::nullopt));
  EXPECT_FALSE(*store_->CompleteProvisioningJob(renewal, MakeIssued(alice_), now, {}));
  EXPECT_TRUE(store_->ListDomainsNeedingCertificates(now + std::chrono::hours(2), 10)->empty());

  // Attaching an uploaded certificate lets the issued one go.
  Certificate uploaded = Insert(alice_);
  got.certificate_id = uploaded.id;
  ASSERT_TRUE(*store_->UpdateDomain(got));
  EXPECT_FALSE(store_->GetCertificate(alice_, issued.id)->has_value());
  // Managed again, then issued again: deleting the domain deletes that one.
  got.policy = ManagementPolicy{};
  ASSERT_TRUE(*store_->UpdateDomain(got));
  ProvisioningJob again = MakeJob(got, now);
  ASSERT_TRUE(*store_->InsertProvisioningJob(again));
  issued = MakeIssued(alice_);
  ASSERT_TRUE(*store_->CompleteProvisioningJob(again, issued, now + std::chrono::hours(1), {}));
  EXPECT_TRUE(store_->GetCertificate(alice_, uploaded.id)->has_value()) << "uploads stay";

  // Deleting the domain deletes the certificate issued for it.
  ASSERT_EQ(store_->DeleteDomain(alice_, d.id)->status, Status::kDeleted);
  EXPECT_FALSE(store_->GetCertificate(alice_, issued.id)->has_value());
}

TEST_P(StoreConformanceTest, JobsAreClaimedOnceUpdatedAndReleased) {
  const Time now = FromUnixSeconds(1'750'000'000);
  std::vector<ProvisioningJob> jobs;
  for (int i = 0; i < 3; ++i) {
    Domain d = MakeDomain(alice_, "job" + std::to_string(i) + ".example.com");
    d.policy = ManagementPolicy{Authority::kLetsEncrypt, i == 0 ? KeyType::kRsa : KeyType::kEcdsa};
    ASSERT_TRUE(store_->InsertDomain(d).ok());
    ProvisioningJob job = MakeJob(d, now);
    job.next_run_at = now + std::chrono::seconds(i);
    ASSERT_TRUE(*store_->InsertProvisioningJob(job));
    jobs.push_back(job);
  }
  const Time lease = now + std::chrono::minutes(5);
  auto claimed = store_->ClaimDueJobs(kNodeA, now + std::chrono::seconds(1), lease, 10);
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  ASSERT_EQ(claimed->size(), 2u) << "the third is not due";
  EXPECT_EQ((*claimed)[0].id, jobs[0].id);
  EXPECT_EQ((*claimed)[0].key_type, KeyType::kRsa);
  EXPECT_TRUE(store_->ClaimDueJobs(kNodeA, now + std::chrono::seconds(1), lease, 10)->empty())
      << "held until the lease ends";

  // Progress keeps the hold; a failure releases it with its retry time.
  ProvisioningJob job = (*claimed)[0];
  job.msg = "ordering";
  job.order_url = "https://ca.test/order/1";
  job.private_key = SealedKey{2, {1, 2, 0, 3}};
  ASSERT_TRUE(*store_->UpdateProvisioningJob(job, lease));
  EXPECT_TRUE(store_->ClaimDueJobs(kNodeA, now + std::chrono::seconds(2), lease, 10)->size() == 1)
      << "only the third";
  job.msg = "the CA could not be reached";
  job.error_code = "INTERNAL_ERROR";
  job.failures = 1;
  job.retries_at = now + std::chrono::seconds(30);
  job.next_run_at = *job.retries_at;
  ASSERT_TRUE(*store_->UpdateProvisioningJob(job, std::nullopt));
  auto stored = **store_->GetProvisioningJobForDomain(job.domain_id);
  EXPECT_EQ(stored.msg, job.msg);
  EXPECT_EQ(stored.error_code, job.error_code);
  EXPECT_EQ(stored.retries_at, job.retries_at);
  EXPECT_EQ(stored.failures, 1);
  EXPECT_EQ(stored.order_url, job.order_url);
  EXPECT_EQ(stored.private_key, job.private_key);
  EXPECT_TRUE(store_->ClaimDueJobs(kNodeA, now + std::chrono::seconds(29), lease, 10)->empty());
  EXPECT_EQ(store_->ClaimDueJobs(kNodeA, now + std::chrono::seconds(30), lease, 10)->size(), 1u);

  // After a crash, the next process releases what the dead one held.
  ASSERT_TRUE(store_->ReleaseJobLeases(kNodeA).ok());
  auto reclaimed = store_->ClaimDueJobs(kNodeA, now + std::chrono::seconds(30), lease, 10);
  ASSERT_EQ(reclaimed->size(), 3u);
  auto mine = std::find_if(reclaimed->begin(), reclaimed->end(),
                           [&](const ProvisioningJob& j) { return j.id == job.id; });
  ASSERT_NE(mine, reclaimed->end());
  job = *mine;  // the current lease, with the key as it was before rotation

  // The job's sealed key is listed for rotation and can be replaced.
  auto keys = store_->ListSealedKeys(std::nullopt, 100);
  ASSERT_TRUE(keys.ok());
  auto it = std::find_if(keys->begin(), keys->end(),
                         [&](const SealedKeyRef& r) { return r.record_id == job.id; });
  ASSERT_NE(it, keys->end());
  EXPECT_EQ(it->key, *job.private_key);
  SealedKey resealed{3, {9, 9}};
  EXPECT_TRUE(*store_->ReplaceSealedKey(job.id, *job.private_key, resealed));
  EXPECT_FALSE(*store_->ReplaceSealedKey(job.id, *job.private_key, resealed)) << "compare and swap";
  EXPECT_EQ((**store_->GetProvisioningJobForDomain(job.domain_id)).private_key, resealed);
  EXPECT_EQ(*store_->CountSealedKeysNotAtVersion(3), 0);
  // A runner's stale copy of the key never undoes the rotation.
  ASSERT_TRUE(*store_->UpdateProvisioningJob(job, std::nullopt));
  EXPECT_EQ((**store_->GetProvisioningJobForDomain(job.domain_id)).private_key, resealed);
}

TEST_P(StoreConformanceTest, AcmeAccountsOnePerDirectoryAndRotatable) {
  AcmeAccount a;
  a.id = NewId("acmeacct");
  a.directory_url = "https://ca.test/dir";
  a.account_url = "https://ca.test/acct/1";
  a.key = SealedKey{1, {4, 0, 5}};
  a.created_at = FromUnixSeconds(1'750'000'000);
  EXPECT_FALSE(store_->GetAcmeAccount(a.directory_url)->has_value());
  ASSERT_TRUE(store_->InsertAcmeAccount(a).ok());
  AcmeAccount dup = a;
  dup.id = NewId("acmeacct");
  EXPECT_EQ(store_->InsertAcmeAccount(dup).error().code, ErrorCode::kStoreConflict);
  auto got = store_->GetAcmeAccount(a.directory_url);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->account_url, a.account_url);
  EXPECT_EQ((*got)->key, a.key);
  EXPECT_TRUE(*store_->ReplaceSealedKey(a.id, a.key, SealedKey{2, {7}}));
  EXPECT_EQ((*store_->GetAcmeAccount(a.directory_url))->key, (SealedKey{2, {7}}));
  EXPECT_TRUE(*store_->DeleteAcmeAccount(a.id));
  EXPECT_FALSE(*store_->DeleteAcmeAccount(a.id));
  EXPECT_FALSE(store_->GetAcmeAccount(a.directory_url)->has_value());
}

TEST_P(StoreConformanceTest, ChallengeAnswersAndEdgeNames) {
  const Time now = FromUnixSeconds(1'750'000'000);
  Domain d = MakeDomain(alice_, "*.shop.example.com");
  d.policy = ManagementPolicy{};
  d.cname_target = "k1.cname.certgate.test";
  d.acme_challenge_cname_target = "k1.acme.certgate.test";
  Domain sub = MakeDomain(bob_, "*.bob.certgate.test");
  Domain plain = MakeDomain(bob_, "app.certgate.test");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  ASSERT_TRUE(store_->InsertDomain(sub).ok());
  ASSERT_TRUE(store_->InsertDomain(plain).ok());
  ProvisioningJob job = MakeJob(d, now);
  ASSERT_TRUE(*store_->InsertProvisioningJob(job));

  ASSERT_TRUE(store_->PutHttp01Challenge({"tokA", "tokA.print", job.id}).ok());
  ASSERT_TRUE(store_->PutHttp01Challenge({"tokA", "tokA.print2", job.id}).ok()) << "replaces";
  EXPECT_EQ(store_->GetHttp01KeyAuthorization("tokA")->value_or(""), "tokA.print2");
  EXPECT_FALSE(store_->GetHttp01KeyAuthorization("tokB")->has_value());

  ASSERT_TRUE(store_->PutDnsTxtRecord("k1.acme.certgate.test", "v2", job.id).ok());
  ASSERT_TRUE(store_->PutDnsTxtRecord("k1.acme.certgate.test", "v1", job.id).ok());
  ASSERT_TRUE(store_->PutDnsTxtRecord("k1.acme.certgate.test", "v1", job.id).ok()) << "idempotent";
  EXPECT_EQ(*store_->ListDnsTxtRecords("k1.acme.certgate.test"),
            (std::vector<std::string>{"v1", "v2"}));
  EXPECT_TRUE(store_->ListDnsTxtRecords("k2.acme.certgate.test")->empty());

  EXPECT_TRUE(*store_->IsEdgeName("k1.cname.certgate.test"));
  EXPECT_TRUE(*store_->IsEdgeName("app.certgate.test"));
  EXPECT_TRUE(*store_->IsEdgeName("x.bob.certgate.test")) << "one label under a wildcard";
  EXPECT_FALSE(*store_->IsEdgeName("y.x.bob.certgate.test"));
  EXPECT_FALSE(*store_->IsEdgeName("k1.acme.certgate.test"));
  EXPECT_FALSE(*store_->IsEdgeName("nothing.certgate.test"));
  EXPECT_TRUE(*store_->HasReservedNamesBelow("bob.certgate.test"));
  EXPECT_TRUE(*store_->HasReservedNamesBelow("certgate.test"));
  EXPECT_FALSE(*store_->HasReservedNamesBelow("app.certgate.test"));
  EXPECT_FALSE(*store_->HasReservedNamesBelow("ob.certgate.test")) << "labels, not characters";

  ASSERT_TRUE(*store_->DeleteProvisioningJob(job.id));
  EXPECT_FALSE(store_->GetHttp01KeyAuthorization("tokA")->has_value());
  EXPECT_TRUE(store_->ListDnsTxtRecords("k1.acme.certgate.test")->empty());
}

TEST_P(StoreConformanceTest, ChallengeAnswersAreDeletedOneByOne) {
  const Time now = FromUnixSeconds(1'700'000'000);
  Domain d = MakeDomain(alice_, "one.certgate.test");
  d.policy = ManagementPolicy{};
  d.acme_challenge_cname_target = "k1.acme.certgate.test";
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  ProvisioningJob job = MakeJob(d, now);
  ASSERT_TRUE(*store_->InsertProvisioningJob(job));
  ASSERT_TRUE(store_->PutHttp01Challenge({"tokA", "tokA.print", job.id}).ok());
  ASSERT_TRUE(store_->PutHttp01Challenge({"tokB", "tokB.print", job.id}).ok());
  ASSERT_TRUE(store_->PutDnsTxtRecord("k1.acme.certgate.test", "v1", job.id).ok());
  ASSERT_TRUE(store_->PutDnsTxtRecord("k1.acme.certgate.test", "v2", job.id).ok());
  // Answers are read live, so their writes call no OnChange callback; they
  // do enter the change feed, for readers in other processes.
  const int64_t sequence = *store_->ChangeSequence();
  using Answers = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(*store_->ListHttp01Challenges(),
            (Answers{{"tokA", "tokA.print"}, {"tokB", "tokB.print"}}));

  auto deleted = store_->DeleteHttp01Challenge("tokA");
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_TRUE(*deleted);
  EXPECT_FALSE(store_->GetHttp01KeyAuthorization("tokA")->has_value());
  EXPECT_EQ(store_->GetHttp01KeyAuthorization("tokB")->value_or(""), "tokB.print");
  EXPECT_FALSE(*store_->DeleteHttp01Challenge("tokA")) << "gone already";
  EXPECT_FALSE(*store_->DeleteHttp01Challenge("never")) << "not found is a value";
  EXPECT_EQ(*store_->ListHttp01Challenges(), (Answers{{"tokB", "tokB.print"}}));

  deleted = store_->DeleteDnsTxtRecord("k1.acme.certgate.test", "v1");
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_TRUE(*deleted);
  EXPECT_EQ(*store_->ListDnsTxtRecords("k1.acme.certgate.test"), std::vector<std::string>{"v2"});
  EXPECT_FALSE(*store_->DeleteDnsTxtRecord("k1.acme.certgate.test", "v1")) << "gone already";
  EXPECT_FALSE(*store_->DeleteDnsTxtRecord("k2.acme.certgate.test", "v2")) << "another name";
  EXPECT_EQ(*store_->ListDnsTxtRecords("k1.acme.certgate.test"), std::vector<std::string>{"v2"});
  EXPECT_EQ(*store_->ChangeSequence(), sequence + 2) << "one entry per answer deleted";

  // What is left still goes with the job; deleting answers left the job alone.
  ASSERT_TRUE(store_->GetProvisioningJobForDomain(d.id)->has_value());
  ASSERT_TRUE(*store_->DeleteProvisioningJob(job.id));
  EXPECT_FALSE(store_->GetHttp01KeyAuthorization("tokB")->has_value());
  EXPECT_TRUE(store_->ListHttp01Challenges()->empty());
  EXPECT_TRUE(store_->ListDnsTxtRecords("k1.acme.certgate.test")->empty());
  EXPECT_EQ(backend_->IntegrityProblems(), "");
}

// ---- Job leases: owners and fencing tokens ----

TEST_P(StoreConformanceTest, AClaimNamesItsOwnerAndRaisesTheToken) {
  const Time now = FromUnixSeconds(1'750'000'000);
  ProvisioningJob first = InsertAndClaimJob(*store_, alice_, "lease.example.com", kNodeA, now);
  EXPECT_EQ(first.lease_owner, kNodeA);
  EXPECT_GT(first.lease_token, 0);
  auto stored = **store_->GetProvisioningJobForDomain(first.domain_id);
  EXPECT_EQ(stored.lease_owner, kNodeA);
  EXPECT_EQ(stored.lease_token, first.lease_token);

  // The lease ran out; another node takes the job over with a greater token.
  const Time later = now + std::chrono::minutes(5);
  auto taken = store_->ClaimDueJobs(kNodeB, later, later + std::chrono::minutes(5), 10);
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ(taken->front().lease_owner, kNodeB);
  EXPECT_GT(taken->front().lease_token, first.lease_token);

  // Released and claimed again by the first owner: still greater, never reused.
  ASSERT_TRUE(store_->ReleaseJobLeases(kNodeB).ok());
  auto again = store_->ClaimDueJobs(kNodeA, later, later + std::chrono::minutes(5), 10);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_GT(again->front().lease_token, taken->front().lease_token);

  EXPECT_FALSE(store_->ClaimDueJobs("", later + std::chrono::hours(1), later, 10).ok())
      << "a lease must name its owner";
}

TEST_P(StoreConformanceTest, ARunnerThatLostItsLeaseWritesNothing) {
  const Time now = FromUnixSeconds(1'750'000'000);
  ProvisioningJob stale = InsertAndClaimJob(*store_, alice_, "fence.example.com", kNodeA, now);
  const Time later = now + std::chrono::minutes(5);
  auto taken = store_->ClaimDueJobs(kNodeB, later, later + std::chrono::minutes(5), 10);
  ASSERT_EQ(taken->size(), 1u);
  ProvisioningJob current = taken->front();

  // The old runner's update and completion are refused and change nothing.
  stale.msg = "the old runner's step";
  stale.order_url = "https://ca.test/order/stale";
  stale.private_key = SealedKey{1, {6, 6}};
  EXPECT_FALSE(*store_->UpdateProvisioningJob(stale, later + std::chrono::minutes(5)));
  EXPECT_FALSE(*store_->UpdateProvisioningJob(stale, std::nullopt));
  Certificate stale_cert = MakeIssued(alice_);
  EXPECT_FALSE(*store_->CompleteProvisioningJob(stale, stale_cert, later, {}));
  EXPECT_FALSE(store_->GetCertificate(alice_, stale_cert.id)->has_value());
  auto stored = **store_->GetProvisioningJobForDomain(current.domain_id);
  EXPECT_EQ(stored.msg, current.msg);
  EXPECT_EQ(stored.order_url, "");
  EXPECT_EQ(stored.private_key, std::nullopt);
  EXPECT_EQ(stored.lease_owner, kNodeB);
  EXPECT_EQ(stored.lease_token, current.lease_token);
  EXPECT_TRUE(store_->ClaimDueJobs(kNodeA, later, later, 10)->empty())
      << "the refused update did not end the new owner's hold";

  // The same owner with an older token (its own earlier claim) is refused too.
  ProvisioningJob older = current;
  older.lease_owner = std::string(kNodeB);
  older.lease_token = stale.lease_token;
  EXPECT_FALSE(*store_->UpdateProvisioningJob(older, std::nullopt));
  // Another owner with the current token is refused.
  ProvisioningJob impostor = current;
  impostor.lease_owner = std::string(kNodeA);
  EXPECT_FALSE(*store_->UpdateProvisioningJob(impostor, std::nullopt));

  // The current holder writes and completes.
  current.msg = "ordering";
  ASSERT_TRUE(*store_->UpdateProvisioningJob(current, later + std::chrono::minutes(5)));
  Certificate issued = MakeIssued(alice_);
  ASSERT_TRUE(*store_->CompleteProvisioningJob(current, issued, later + std::chrono::hours(1), {}));
  EXPECT_EQ((*store_->GetDomain(alice_, current.domain_id))->certificate_id, issued.id);
  EXPECT_FALSE(*store_->UpdateProvisioningJob(current, std::nullopt)) << "the job is gone";
}

TEST_P(StoreConformanceTest, ReleasingLeasesFreesOnlyTheOwnersJobs) {
  const Time now = FromUnixSeconds(1'750'000'000);
  ProvisioningJob a = InsertAndClaimJob(*store_, alice_, "a.lease.example.com", kNodeA, now);
  ProvisioningJob b = InsertAndClaimJob(*store_, bob_, "b.lease.example.org", kNodeB, now);

  ASSERT_TRUE(store_->ReleaseJobLeases(kNodeA).ok());
  auto reclaimed = store_->ClaimDueJobs(kNodeA, now, now + std::chrono::minutes(5), 10);
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.error().message;
  ASSERT_EQ(reclaimed->size(), 1u) << "node B's live lease is not freed";
  EXPECT_EQ(reclaimed->front().id, a.id);
  EXPECT_EQ((**store_->GetProvisioningJobForDomain(b.domain_id)).lease_owner, kNodeB);
  ProvisioningJob still_b = b;
  still_b.msg = "node B goes on";
  EXPECT_TRUE(*store_->UpdateProvisioningJob(still_b, now + std::chrono::minutes(5)));
  // A release by a node that holds nothing frees nothing.
  ASSERT_TRUE(store_->ReleaseJobLeases("node_c").ok());
  EXPECT_TRUE(store_->ClaimDueJobs(kNodeA, now, now, 10)->empty());
}

}  // namespace
}  // namespace certgate::store::testing
