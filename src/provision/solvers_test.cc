// Http01Solver and Dns01Solver over a MemoryStore: what Present publishes,
// CleanUp withdraws, and nothing else.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/ids.h"
#include "core/time.h"
#include "provision/challenge.h"
#include "provision/dns01_solver.h"
#include "provision/http01_solver.h"
#include "store/records.h"
#include "store/testing/memory_store.h"

namespace certgate::provision {
namespace {

class SolversTest : public ::testing::Test {
 protected:
  // A managed domain with a job, which the answers belong to.
  void SetUp() override {
    const Time now = FromUnixSeconds(1'700'000'000);
    store::Account account{NewId("acct"), "Alice", store::Plan::kFree, now};
    ASSERT_TRUE(store_.CreateAccount(account).ok());
    store::Domain d;
    d.id = NewId("rd");
    d.account_id = account.id;
    d.created_at = now;
    d.domain = "www.example.com";
    d.policy = store::ManagementPolicy{};
    d.acme_challenge_cname_target = "k1.acme.certgate.test";
    ASSERT_TRUE(store_.InsertDomain(d).ok());
    store::ProvisioningJob job;
    job.id = NewId("job");
    job.domain_id = d.id;
    job.account_id = d.account_id;
    job.domain = d.domain;
    job.started_at = now;
    job.next_run_at = now;
    ASSERT_TRUE(*store_.InsertProvisioningJob(job));
    job_id_ = job.id;
  }

  Challenge Http01(const std::string& token) {
    return Challenge{ChallengeType::kHttp01, job_id_, "www.example.com", token,
                     token + ".thumbprint", "", ""};
  }
  Challenge Dns01(const std::string& value) {
    return Challenge{ChallengeType::kDns01, job_id_, "www.example.com", "token",
                     "token.thumbprint", value, "k1.acme.certgate.test"};
  }

  store::testing::MemoryStore store_;
  std::string job_id_;
};

TEST_F(SolversTest, Http01CleanUpDeletesTheAnswerPresentPut) {
  Http01Solver solver(store_);
  ASSERT_TRUE(solver.Present(Http01("tokA")).ok());
  ASSERT_TRUE(solver.Present(Http01("tokB")).ok());
  EXPECT_EQ(store_.GetHttp01KeyAuthorization("tokA")->value_or(""), "tokA.thumbprint");

  auto cleaned = solver.CleanUp(Http01("tokA"));
  ASSERT_TRUE(cleaned.ok()) << cleaned.error().message;
  EXPECT_FALSE(store_.GetHttp01KeyAuthorization("tokA")->has_value());
  EXPECT_EQ(store_.GetHttp01KeyAuthorization("tokB")->value_or(""), "tokB.thumbprint")
      << "another authorization's answer stays";
  EXPECT_TRUE(solver.CleanUp(Http01("tokA")).ok()) << "an answer already gone is success";
}

TEST_F(SolversTest, Dns01CleanUpDeletesTheValuePresentPut) {
  Dns01Solver solver(store_);
  // "x" and "*.x" put two values at the same name.
  ASSERT_TRUE(solver.Present(Dns01("value-1")).ok());
  ASSERT_TRUE(solver.Present(Dns01("value-2")).ok());

  auto cleaned = solver.CleanUp(Dns01("value-1"));
  ASSERT_TRUE(cleaned.ok()) << cleaned.error().message;
  EXPECT_EQ(*store_.ListDnsTxtRecords("k1.acme.certgate.test"),
            std::vector<std::string>{"value-2"});
  EXPECT_TRUE(solver.CleanUp(Dns01("value-1")).ok()) << "a value already gone is success";
  EXPECT_TRUE(solver.CleanUp(Dns01("value-2")).ok());
  EXPECT_TRUE(store_.ListDnsTxtRecords("k1.acme.certgate.test")->empty());
}

TEST_F(SolversTest, Dns01CleanUpWithoutARecordNameHasNothingToDelete) {
  Dns01Solver solver(store_);
  Challenge nameless = Dns01("value-1");
  nameless.dns01_record_name.clear();
  EXPECT_FALSE(solver.Present(nameless).ok());
  EXPECT_TRUE(solver.CleanUp(nameless).ok()) << "CleanUp follows even a failed Present";
}

}  // namespace
}  // namespace certgate::provision
