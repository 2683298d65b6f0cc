// Dns01Solver: answers DNS-01 challenges with TXT records in the store, which
// certgate's authoritative DNS serves (provision/zone_cache.h). The
// record goes to the domain's acme_challenge_cname_target, where the user's
// _acme-challenge CNAME sends the CA. Thread-safe, as the store is.
#pragma once

#include <chrono>
#include <functional>
#include <utility>

#include "provision/solver.h"
#include "store/challenge_store.h"

namespace certgate::provision {

class Dns01Solver final : public Solver {
 public:
  // Called after each record is written, to return once this node's DNS
  // serves it (serve: the zone cache's CatchUp), so that the CA, told to
  // look next, finds it.
  using Published = std::function<Result<void>()>;

  // challenges must outlive the solver. propagation: how long Wait gives
  // the other nodes of a cluster to serve a record this node wrote (they
  // follow the store's change feed); zero for a single node.
  explicit Dns01Solver(store::ChallengeStore& challenges, Published published = {},
                       std::chrono::milliseconds propagation = {})
      : challenges_(challenges), published_(std::move(published)), propagation_(propagation) {}

  // Writes the TXT value at challenge.dns01_record_name, tied to the job,
  // then waits for published.
  // Error kInternal when the challenge has no record name (a domain without
  // an acme_challenge_cname_target cannot be validated by DNS-01).
  Result<void> Present(const Challenge& challenge) override;
  // Waits for propagation: the CA's resolver may ask any node's DNS.
  Result<void> Wait(const Challenge& challenge) override;
  // Deletes the TXT value Present wrote (other values at the name, for other
  // authorizations, stay); a value already gone, or a challenge without a
  // record name, is success.
  Result<void> CleanUp(const Challenge& challenge) override;

 private:
  store::ChallengeStore& challenges_;
  const Published published_;
  const std::chrono::milliseconds propagation_;
};

}  // namespace certgate::provision
