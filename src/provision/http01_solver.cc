#include "provision/http01_solver.h"

namespace certgate::provision {

Result<void> Http01Solver::Present(const Challenge& challenge) {
  return challenges_.PutHttp01Challenge(
      {challenge.token, challenge.key_authorization, challenge.job_id});
}

Result<void> Http01Solver::CleanUp(const Challenge& challenge) {
  CG_RETURN_IF_ERROR(challenges_.DeleteHttp01Challenge(challenge.token));
  return {};
}

}  // namespace certgate::provision
