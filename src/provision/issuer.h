// Issuer: gets a certificate for one provisioning job from a certificate
// authority (for ACME: account, order, authorizations and their challenges,
// finalization, download), and tells when the CA wants it renewed.
//
// Implementations are shared by every job runner and must be thread-safe.
// An attempt is blocking; it reports each step through IssueProgress, which
// may end it (the job was cancelled, certgate is stopping, the attempt ran
// out of time), and it may be resumed by a later attempt from the order it
// recorded there.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/result.h"
#include "core/time.h"
#include "provision/challenge.h"
#include "provision/solver.h"

namespace certgate::provision {

// What one job asks for.
struct IssueRequest {
  std::string job_id;
  std::string domain;     // normalized, "*.example.com" for a wildcard
  EVP_PKEY* key = nullptr;  // the certificate's key; borrowed for the call
  // An order an earlier attempt of this job made, to resume; "" for none.
  std::string order_url;
  ChallengeType challenge_type = ChallengeType::kHttp01;
  // For DNS-01: where the TXT record goes (see Challenge); "" if nowhere.
  std::string dns01_record_name;
};

// The job's side of an attempt, called by the issuer from the attempt's
// thread.
class IssueProgress {
 public:
  virtual ~IssueProgress() = default;
  // A step begins (msg says which, for the API), recorded together with the
  // order. An error ends the attempt with it: kNotFound when the job is gone
  // or no longer this runner's.
  virtual Result<void> Step(std::string msg) = 0;
  // The order the job works on from now on ("": none; the next attempt makes
  // a new one). Recorded with the next step or with the attempt's failure.
  virtual void SetOrder(std::string order_url) = 0;
  // Waits before asking the CA again (retry_after: what the CA asked for).
  // An error ends the attempt: its time is up, or certgate is stopping.
  virtual Result<void> Pause(std::optional<std::chrono::seconds> retry_after) = 0;
};

// The CA's suggested renewal window for a certificate (RFC 9773).
struct RenewalWindow {
  Time start;
  Time end;
};

class Issuer {
 public:
  virtual ~Issuer() = default;

  // Runs (or resumes) the order for request.domain and returns the PEM chain
  // the CA issued for request.key, leaf first, as the CA sent it; the caller
  // checks it. `solver` answers the challenges of request.challenge_type.
  // Errors: the CA's (see acme/problem.h; kAcmeOrderFailed when it could not
  // validate a domain problem), the solver's, or the first error of
  // `progress`.
  virtual Result<std::string> Issue(const IssueRequest& request, Solver& solver,
                                    IssueProgress& progress) = 0;

  // When the CA would like `leaf` renewed; nullopt when it does not say (no
  // ACME Renewal Information). Errors: it could not be asked.
  virtual Result<std::optional<RenewalWindow>> GetRenewalWindow(X509* leaf) = 0;
};

}  // namespace certgate::provision
