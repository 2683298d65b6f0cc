#include "provision/dns01_solver.h"

#include <fmt/format.h>

#include <thread>

namespace certgate::provision {

Result<void> Dns01Solver::Present(const Challenge& challenge) {
  if (challenge.dns01_record_name.empty()) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{} needs DNS-01 but has no acme_challenge_cname_target",
                                 challenge.identifier));
  }
  CG_RETURN_IF_ERROR(challenges_.PutDnsTxtRecord(challenge.dns01_record_name,
                                                 challenge.dns01_txt_value, challenge.job_id));
  return published_ ? published_() : Result<void>();
}

Result<void> Dns01Solver::Wait(const Challenge&) {
  if (propagation_.count() > 0) std::this_thread::sleep_for(propagation_);
  return {};
}

Result<void> Dns01Solver::CleanUp(const Challenge& challenge) {
  if (challenge.dns01_record_name.empty()) return {};  // Present wrote nothing
  CG_RETURN_IF_ERROR(
      challenges_.DeleteDnsTxtRecord(challenge.dns01_record_name, challenge.dns01_txt_value));
  return {};
}

}  // namespace certgate::provision
