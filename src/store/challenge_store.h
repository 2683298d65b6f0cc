// ACME challenge answers: HTTP-01 key authorizations the edge serves and
// DNS-01 TXT records the DNS responder serves, each deleted with its job or
// before, one by one, by the solver that put it. Both are read live (the
// edge and the DNS responder ask on every request), so writing them
// announces no change (EdgeFeed).
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value, and records of another
// account are not found).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "store/records.h"

namespace certgate::store {

class ChallengeStore {
 public:
  virtual ~ChallengeStore() = default;

  // Challenge answers, deleted with their job.
  virtual Result<void> PutHttp01Challenge(const Http01Challenge& challenge) = 0;
  virtual Result<std::optional<std::string>> GetHttp01KeyAuthorization(
      std::string_view token) = 0;
  // Deletes token's answer, whichever job put it; false if there was none.
  virtual Result<bool> DeleteHttp01Challenge(std::string_view token) = 0;
  // Every HTTP-01 answer as (token, key authorization), by token: a cache's
  // first load (there is one per challenge under way, so few).
  virtual Result<std::vector<std::pair<std::string, std::string>>> ListHttp01Challenges() = 0;
  // A TXT value at name (an acme_challenge_cname_target) for DNS-01.
  virtual Result<void> PutDnsTxtRecord(std::string_view name, std::string_view value,
                                       std::string_view job_id) = 0;
  virtual Result<std::vector<std::string>> ListDnsTxtRecords(std::string_view name) = 0;
  // Deletes the TXT value at name, whichever job put it (other values at
  // name stay); false if it was not there.
  virtual Result<bool> DeleteDnsTxtRecord(std::string_view name, std::string_view value) = 0;
};

}  // namespace certgate::store
