// Http01Solver: answers HTTP-01 challenges through the store's challenge
// table, from which every edge node's port-80 responder serves
// /.well-known/acme-challenge/<token> (CertMagic's distributedSolver).
// Thread-safe, as the store is.
#pragma once

#include "provision/solver.h"
#include "store/challenge_store.h"

namespace certgate::provision {

class Http01Solver final : public Solver {
 public:
  // challenges must outlive the solver.
  explicit Http01Solver(store::ChallengeStore& challenges) : challenges_(challenges) {}

  // Writes the token's key authorization, tied to the challenge's job.
  Result<void> Present(const Challenge& challenge) override;
  // Leaves the answer in place: the store deletes a job's answers with the
  // job (when its certificate is attached or it is dropped), and a paused
  // attempt resumes with the same order, whose challenge the CA may still be
  // checking. Always succeeds.
  Result<void> CleanUp(const Challenge& challenge) override;

 private:
  store::ChallengeStore& challenges_;
};

}  // namespace certgate::provision
