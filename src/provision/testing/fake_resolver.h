// FakeResolver: a Resolver answering from a table the test fills: a name's
// CNAME target, or none. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "provision/resolver.h"

namespace certgate::provision::testing {

class FakeResolver final : public Resolver {
 public:
  void SetCname(std::string name, std::string target) {
    std::lock_guard lock(mu_);
    cnames_[std::move(name)] = std::move(target);
  }

  Result<std::optional<std::string>> LookupCname(std::string_view name) const override {
    std::lock_guard lock(mu_);
    auto it = cnames_.find(std::string(name));
    if (it == cnames_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> cnames_;  // GUARDED_BY(mu_)
};

}  // namespace certgate::provision::testing
