// Polling helpers over acme::Client: wait for an authorization or an order to
// leave its transient states, honouring the CA's Retry-After. Blocking (they
// sleep between polls); callable from any thread. The durable job runner may
// use these or poll on its own schedule.
#pragma once

#include <chrono>
#include <string_view>

#include "acme/client.h"
#include "core/result.h"

namespace certgate::acme {

struct PollOptions {
  // Used when the CA sends no Retry-After. Default: 1 s.
  std::chrono::milliseconds default_interval{1000};
  // Caps the CA's Retry-After. Default: 10 s.
  std::chrono::milliseconds max_interval{10000};
};

// Polls the order while it is "pending" or "processing". Returns it once
// "ready" or "valid". Errors: kAcmeOrderFailed when it turns "invalid" (the
// message carries the order's problem and, for each failed authorization, its
// identifier and the challenge's problem), kAcmeTimedOut when deadline passes
// first, and any error of Client::GetOrder.
Result<Order> WaitForOrder(Client& client, const AccountRef& account, std::string_view url,
                           std::chrono::steady_clock::time_point deadline,
                           const PollOptions& options = {});

// Polls the authorization while it is "pending" (or a challenge is
// "processing"). Returns it once "valid". Errors: kAcmeOrderFailed for
// "invalid", "deactivated", "expired" or "revoked" (with the challenge's
// problem), kAcmeTimedOut, and any error of Client::GetAuthorization.
Result<Authorization> WaitForAuthorization(Client& client, const AccountRef& account,
                                           std::string_view url,
                                           std::chrono::steady_clock::time_point deadline,
                                           const PollOptions& options = {});

// "example.com: http-01: unauthorized: <detail>" for each failed challenge.
std::string DescribeAuthorizationFailure(const Authorization& authz);

}  // namespace certgate::acme
