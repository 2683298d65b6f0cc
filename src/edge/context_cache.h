// ContextCache: SSL_CTX objects by key ("<certificate id>" or
// "<certificate id>|<policy key>"), built on first use and kept in a
// bounded LRU. Contexts are reference-counted by OpenSSL: a connection that
// switched to one keeps it alive after eviction.
//
// Thread-safe. Find is on the handshake path: one short critical section,
// a hash probe and a list splice.
#pragma once

#include <chrono>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pki/ossl_ptr.h"

namespace certgate::edge {

class ContextCache {
 public:
  explicit ContextCache(size_t capacity) : capacity_(capacity) {}

  // The context for key (a new reference), or null when it is not cached.
  // Sets *failed when a recent build for key failed (see MarkFailed), so the
  // caller can fall back instead of retrying on every handshake.
  pki::SslCtxPtr Find(const std::string& key, bool* failed = nullptr);
  void Insert(const std::string& key, pki::SslCtxPtr ctx);
  // Remembers for `ttl` that building key failed.
  void MarkFailed(const std::string& key, std::chrono::seconds ttl);
  // Drops every entry whose key starts with prefix (a certificate id).
  void EraseByPrefix(std::string_view prefix);
  size_t size();

 private:
  struct Entry {
    pki::SslCtxPtr ctx;  // null for a failure marker
    std::chrono::steady_clock::time_point failed_until;
    std::list<std::string>::iterator lru;
  };
  const size_t capacity_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // GUARDED_BY(mu_)
  std::list<std::string> lru_;                       // GUARDED_BY(mu_), most recent first
};

}  // namespace certgate::edge
