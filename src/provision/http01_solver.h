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
  // Deletes the token's answer (which the store would otherwise delete with
  // the job); an answer already gone is success.
  Result<void> CleanUp(const Challenge& challenge) override;

 private:
  store::ChallengeStore& challenges_;
};

}  // namespace certgate::provision
