// FakeSolver: a Solver that records what it was asked to publish and to
// withdraw, and can be told to fail Present. Thread-safe.
#pragma once

#include <mutex>
#include <optional>
#include <vector>

#include "provision/solver.h"

namespace certgate::provision::testing {

class FakeSolver final : public Solver {
 public:
  // The error every Present returns from now on; nullopt: succeed.
  void FailPresentWith(std::optional<Error> error) {
    std::lock_guard lock(mu_);
    present_error_ = std::move(error);
  }

  Result<void> Present(const Challenge& challenge) override {
    std::lock_guard lock(mu_);
    presented_.push_back(challenge);
    if (present_error_) return *present_error_;
    return {};
  }
  Result<void> CleanUp(const Challenge& challenge) override {
    std::lock_guard lock(mu_);
    cleaned_up_.push_back(challenge);
    return {};
  }

  std::vector<Challenge> presented() const {
    std::lock_guard lock(mu_);
    return presented_;
  }
  std::vector<Challenge> cleaned_up() const {
    std::lock_guard lock(mu_);
    return cleaned_up_;
  }

 private:
  mutable std::mutex mu_;
  std::optional<Error> present_error_;  // GUARDED_BY(mu_)
  std::vector<Challenge> presented_;    // GUARDED_BY(mu_)
  std::vector<Challenge> cleaned_up_;   // GUARDED_BY(mu_)
};

}  // namespace certgate::provision::testing
