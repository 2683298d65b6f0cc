// LeafCache: the parsed leaf certificates of stored certificates, by id. A
// stored certificate's chain never changes (a new certificate gets a new id),
// so attaching one to many domains parses its chain once, not per domain.
// Bounded (the oldest entry goes first); thread-safe.
#pragma once

#include <openssl/x509.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/result.h"

namespace certgate::api {

class LeafCache {
 public:
  explicit LeafCache(size_t capacity = 4096) : capacity_(capacity) {}

  // The leaf of certificate `id`, whose stored chain is `pem`: parsed on the
  // first call for the id, then shared. Errors: the chain's parse errors.
  Result<std::shared_ptr<X509>> Leaf(std::string_view id, std::string_view pem);
  size_t size() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<X509>> leaves_;  // GUARDED_BY(mu_)
  std::deque<std::string> order_;                                   // GUARDED_BY(mu_)
};

}  // namespace certgate::api
