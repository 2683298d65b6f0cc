#include "edge/context_cache.h"

namespace certgate::edge {

pki::SslCtxPtr ContextCache::Find(const std::string& key, bool* failed) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  Entry& e = it->second;
  if (!e.ctx) {
    if (std::chrono::steady_clock::now() < e.failed_until) {
      if (failed != nullptr) *failed = true;
      return nullptr;
    }
    lru_.erase(e.lru);
    entries_.erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, e.lru);
  SSL_CTX_up_ref(e.ctx.get());
  return pki::SslCtxPtr(e.ctx.get());
}

void ContextCache::Insert(const std::string& key, pki::SslCtxPtr ctx) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    it->second.ctx = std::move(ctx);
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return;
  }
  lru_.push_front(key);
  entries_.emplace(key, Entry{std::move(ctx), {}, lru_.begin()});
  while (entries_.size() > capacity_) {
    entries_.erase(lru_.back());
    lru_.pop_back();
  }
}

void ContextCache::MarkFailed(const std::string& key, std::chrono::seconds ttl) {
  std::lock_guard lock(mu_);
  auto until = std::chrono::steady_clock::now() + ttl;
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    it->second.ctx.reset();
    it->second.failed_until = until;
    return;
  }
  lru_.push_front(key);
  entries_.emplace(key, Entry{nullptr, until, lru_.begin()});
  while (entries_.size() > capacity_) {
    entries_.erase(lru_.back());
    lru_.pop_back();
  }
}

void ContextCache::EraseByPrefix(std::string_view prefix) {
  std::lock_guard lock(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (std::string_view(it->first).substr(0, prefix.size()) == prefix) {
      lru_.erase(it->second.lru);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t ContextCache::size() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace certgate::edge
