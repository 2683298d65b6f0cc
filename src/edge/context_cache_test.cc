#include "edge/context_cache.h"

#include <gtest/gtest.h>

namespace certgate::edge {
namespace {

pki::SslCtxPtr NewContext() { return pki::SslCtxPtr(SSL_CTX_new(TLS_server_method())); }

TEST(ContextCacheTest, FindsWhatWasInserted) {
  ContextCache cache(4);
  EXPECT_EQ(cache.Find("a"), nullptr);
  pki::SslCtxPtr ctx = NewContext();
  SSL_CTX* raw = ctx.get();
  cache.Insert("a", std::move(ctx));
  pki::SslCtxPtr found = cache.Find("a");
  EXPECT_EQ(found.get(), raw);
}

TEST(ContextCacheTest, EvictsTheLeastRecentlyUsedBeyondCapacity) {
  ContextCache cache(2);
  cache.Insert("a", NewContext());
  cache.Insert("b", NewContext());
  EXPECT_NE(cache.Find("a"), nullptr);  // a is now the most recent
  cache.Insert("c", NewContext());
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_NE(cache.Find("a"), nullptr);
  EXPECT_EQ(cache.Find("b"), nullptr);
  EXPECT_NE(cache.Find("c"), nullptr);
}

TEST(ContextCacheTest, AContextInUseOutlivesItsEviction) {
  ContextCache cache(1);
  cache.Insert("a", NewContext());
  pki::SslCtxPtr held = cache.Find("a");
  cache.Insert("b", NewContext());
  EXPECT_EQ(cache.Find("a"), nullptr);
  // Still usable: the cache gave us our own reference.
  pki::SslPtr ssl(SSL_new(held.get()));
  EXPECT_NE(ssl, nullptr);
}

TEST(ContextCacheTest, RemembersFailuresForAWhile) {
  ContextCache cache(4);
  cache.MarkFailed("bad", std::chrono::seconds(60));
  bool failed = false;
  EXPECT_EQ(cache.Find("bad", &failed), nullptr);
  EXPECT_TRUE(failed);
  cache.MarkFailed("brief", std::chrono::seconds(0));
  failed = false;
  EXPECT_EQ(cache.Find("brief", &failed), nullptr);
  EXPECT_FALSE(failed) << "an expired failure is forgotten";
}

TEST(ContextCacheTest, ErasesByCertificatePrefix) {
  ContextCache cache(8);
  cache.Insert("cert_a", NewContext());
  cache.Insert("cert_a|ep_1@3", NewContext());
  cache.Insert("cert_b", NewContext());
  cache.EraseByPrefix("cert_a");
  EXPECT_EQ(cache.Find("cert_a"), nullptr);
  EXPECT_EQ(cache.Find("cert_a|ep_1@3"), nullptr);
  EXPECT_NE(cache.Find("cert_b"), nullptr);
}

}  // namespace
}  // namespace certgate::edge
