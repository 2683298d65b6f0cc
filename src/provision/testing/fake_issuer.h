// FakeIssuer: an Issuer for unit tests above the seam. It "orders" by
// recording the request, walks the job through the steps an ACME order
// reports, presents and cleans up one challenge with the given Solver, and
// signs a certificate for the job's key with a throwaway test CA
// (pki/testing). Failures and ARI windows are scripted by the test.
//
// Thread-safe for the calls the manager makes; tests set its fields while no
// attempt runs.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "provision/issuer.h"

namespace certgate::provision::testing {

class FakeIssuer final : public Issuer {
 public:
  // What one Issue call was asked.
  struct Call {
    std::string job_id;
    std::string domain;
    std::string resumed_order_url;  // request.order_url
    ChallengeType challenge_type = ChallengeType::kHttp01;
    int key_type = 0;  // EVP_PKEY_id of the certificate's key
  };

  // The validity of the certificates it issues: from an hour ago for
  // `lifetime`. Default 90 days.
  std::chrono::seconds lifetime{std::chrono::hours(24 * 90)};
  // Errors the next calls return (one per call, front first) after the
  // order was made; an empty queue issues.
  std::deque<Error> failures;
  // What GetRenewalWindow answers for every certificate. Default: no ARI.
  std::optional<RenewalWindow> renewal_window;
  // Runs inside Issue after the order was made and before the next step is
  // recorded: a test's hook to change the world mid-attempt.
  std::function<void()> during_issue;
  // Then waits for the CA this many times (IssueProgress::Pause, which
  // takes real time: at least a second each), running before_pause first.
  int pauses = 0;
  std::function<void()> before_pause;

  Result<std::string> Issue(const IssueRequest& request, Solver& solver,
                            IssueProgress& progress) override;
  Result<std::optional<RenewalWindow>> GetRenewalWindow(X509* leaf) override;

  std::vector<Call> calls() const;

 private:
  mutable std::mutex mu_;
  std::vector<Call> calls_;  // GUARDED_BY(mu_)
  int orders_made_ = 0;      // GUARDED_BY(mu_)
};

}  // namespace certgate::provision::testing
