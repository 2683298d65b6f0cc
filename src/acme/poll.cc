#include "acme/poll.h"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

namespace certgate::acme {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Sleeps until the next poll; false when that would pass the deadline.
bool SleepBeforeNextPoll(std::optional<std::chrono::seconds> retry_after,
                         SteadyClock::time_point deadline, const PollOptions& options) {
  std::chrono::milliseconds wait = options.default_interval;
  if (retry_after) {
    wait = std::clamp<std::chrono::milliseconds>(*retry_after, std::chrono::milliseconds(0),
                                                 options.max_interval);
  }
  if (SteadyClock::now() + wait >= deadline) return false;
  std::this_thread::sleep_for(wait);
  return true;
}

}  // namespace

std::string DescribeAuthorizationFailure(const Authorization& authz) {
  std::string name = authz.wildcard ? "*." + authz.identifier : authz.identifier;
  std::string out;
  for (const Challenge& c : authz.challenges) {
    if (!c.error) continue;
    if (!out.empty()) out += "; ";
    out += fmt::format("{}: {}: {}", name, c.type, DescribeProblem(*c.error));
  }
  if (out.empty()) out = fmt::format("{}: authorization {}", name, authz.status);
  return out;
}

Result<Order> WaitForOrder(Client& client, const AccountRef& account, std::string_view url,
                           SteadyClock::time_point deadline, const PollOptions& options) {
  for (;;) {
    CG_ASSIGN_OR_RETURN(Order order, client.GetOrder(account, url));
    if (order.status == "ready" || order.status == "valid") return order;
    if (order.status == "invalid") {
      // The failed authorizations say best what went wrong (per name); the
      // order's own problem, when there is one, usually repeats one of them.
      std::string why;
      for (const std::string& authz_url : order.authorizations) {
        auto authz = client.GetAuthorization(account, authz_url);
        if (!authz.ok() || authz->status == "valid") continue;
        if (!why.empty()) why += "; ";
        why += DescribeAuthorizationFailure(*authz);
      }
      if (why.empty() && order.error) why = DescribeProblem(*order.error);
      if (why.empty()) why = "no reason given";
      return MakeError(ErrorCode::kAcmeOrderFailed,
                       fmt::format("the CA marked the order invalid: {}", why));
    }
    if (order.status != "pending" && order.status != "processing") {
      return MakeError(ErrorCode::kAcmeBadResponse,
                       fmt::format("the order has an unknown status '{}'",
                                   order.status.substr(0, 40)));
    }
    if (!SleepBeforeNextPoll(order.retry_after, deadline, options)) {
      return MakeError(ErrorCode::kAcmeTimedOut,
                       fmt::format("the order is still {} at the deadline", order.status));
    }
  }
}

Result<Authorization> WaitForAuthorization(Client& client, const AccountRef& account,
                                           std::string_view url,
                                           SteadyClock::time_point deadline,
                                           const PollOptions& options) {
  for (;;) {
    CG_ASSIGN_OR_RETURN(Authorization authz, client.GetAuthorization(account, url));
    if (authz.status == "valid") return authz;
    if (authz.status != "pending") {
      return MakeError(ErrorCode::kAcmeOrderFailed,
                       fmt::format("the CA could not validate {}",
                                   DescribeAuthorizationFailure(authz)));
    }
    if (!SleepBeforeNextPoll(authz.retry_after, deadline, options)) {
      return MakeError(ErrorCode::kAcmeTimedOut,
                       fmt::format("the authorization for {} is still pending at the deadline",
                                   authz.identifier));
    }
  }
}

}  // namespace certgate::acme
