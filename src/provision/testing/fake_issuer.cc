#include "provision/testing/fake_issuer.h"

#include <fmt/format.h>

#include "pki/testing/cert_factory.h"

namespace certgate::provision::testing {

Result<std::string> FakeIssuer::Issue(const IssueRequest& request, Solver& solver,
                                      IssueProgress& progress) {
  std::optional<Error> failure;
  std::string order_url = request.order_url;
  {
    std::lock_guard lock(mu_);
    calls_.push_back(Call{request.job_id, request.domain, request.order_url,
                          request.challenge_type, EVP_PKEY_id(request.key)});
    if (!failures.empty()) {
      failure = std::move(failures.front());
      failures.pop_front();
    }
    if (order_url.empty()) order_url = fmt::format("https://ca.test/order/{}", ++orders_made_);
  }
  if (request.order_url.empty()) {
    CG_RETURN_IF_ERROR(progress.Step("ordering a certificate"));
    progress.SetOrder(order_url);
  }
  if (during_issue) during_issue();
  for (int i = 0; i < pauses; ++i) {
    if (before_pause) before_pause();
    CG_RETURN_IF_ERROR(progress.Pause(std::nullopt));
  }

  std::string identifier = request.domain;
  if (identifier.starts_with("*.")) identifier.erase(0, 2);
  Challenge challenge{request.challenge_type, request.job_id, identifier, "token",
                      "token.thumbprint", "txt-value", request.dns01_record_name};
  CG_RETURN_IF_ERROR(progress.Step("answering the CA's challenges"));
  auto presented = solver.Present(challenge);
  auto cleaned = solver.CleanUp(challenge);
  CG_RETURN_IF_ERROR(presented);
  CG_RETURN_IF_ERROR(cleaned);
  if (failure) return *failure;

  CG_RETURN_IF_ERROR(progress.Step("requesting the certificate"));
  pki::testing::CertSpec spec;
  spec.common_name = request.domain;
  spec.dns_names = {request.domain};
  spec.not_before_offset = -std::chrono::hours(1);
  spec.not_after_offset = lifetime - std::chrono::hours(1);
  const pki::testing::TestChain ca = pki::testing::MakeChain(pki::testing::TestKeyType::kEcP256,
                                                              spec);
  pki::X509Ptr leaf = pki::testing::IssueCertificate(spec, request.key, ca.intermediate.get(),
                                                ca.intermediate_key);
  return pki::testing::CertPem(leaf.get()) + pki::testing::CertPem(ca.intermediate.get());
}

Result<std::optional<RenewalWindow>> FakeIssuer::GetRenewalWindow(X509*) {
  std::lock_guard lock(mu_);
  return renewal_window;
}

std::vector<FakeIssuer::Call> FakeIssuer::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

}  // namespace certgate::provision::testing
