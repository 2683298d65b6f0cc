#include "api/leaf_cache.h"

#include "pki/certificate.h"

namespace certgate::api {

Result<std::shared_ptr<X509>> LeafCache::Leaf(std::string_view id, std::string_view pem) {
  const std::string key(id);
  {
    std::lock_guard lock(mu_);
    if (auto it = leaves_.find(key); it != leaves_.end()) return it->second;
  }
  // Parsed outside the lock: two callers may both parse a new id once.
  CG_ASSIGN_OR_RETURN(pki::Chain chain, pki::ParseStoredChain(pem));
  X509* leaf = chain.leaf();
  X509_up_ref(leaf);
  std::shared_ptr<X509> shared(leaf, X509_free);
  std::lock_guard lock(mu_);
  auto [it, added] = leaves_.try_emplace(key, shared);
  if (added) {
    order_.push_back(key);
    while (order_.size() > capacity_) {
      leaves_.erase(order_.front());
      order_.pop_front();
    }
  }
  return it->second;
}

size_t LeafCache::size() const {
  std::lock_guard lock(mu_);
  return leaves_.size();
}

}  // namespace certgate::api
