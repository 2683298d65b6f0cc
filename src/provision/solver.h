// Solver: proves control of one identifier for one ACME challenge by
// publishing the answer where the CA looks (CertMagic's acmez Solver).
//
// The issuer calls Present, then Wait, then tells the CA to validate; once
// the authorization is decided, or the attempt failed after Present was
// called but before the CA was told to validate, it calls CleanUp, so
// answers never outlive their use because of an error. An attempt that stops
// while the CA may still be checking the answer (a pause cut short, a lost
// lease) leaves it for the attempt that resumes the order; the store deletes
// a job's answers with the job. Implementations are shared by every job and
// must be thread-safe.
#pragma once

#include "core/result.h"
#include "provision/challenge.h"

namespace certgate::provision {

class Solver {
 public:
  virtual ~Solver() = default;

  // Publishes the answer. Success means the CA can find it from now on (on
  // any node, for a shared store). Calling it again with the same challenge
  // is harmless (a resumed attempt does).
  virtual Result<void> Present(const Challenge& challenge) = 0;
  // Waits until the CA can see the answer (e.g. DNS propagation). Default:
  // nothing to wait for.
  virtual Result<void> Wait(const Challenge&) { return {}; }
  // Withdraws what Present published, as far as the solver can. Called even
  // when Present failed; errors are logged by the caller, never fatal.
  virtual Result<void> CleanUp(const Challenge& challenge) = 0;
};

}  // namespace certgate::provision
