// TicketKeyRing over a MemoryStore: the keys are made once and shared by
// every ring on the store, rotate on schedule keeping the newest few, and a
// new key issues tickets only once every node can have read it.
#include "edge/ticket_keys.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "core/hex.h"
#include "seal/key_vault.h"
#include "store/testing/memory_store.h"

namespace certgate::edge {
namespace {

std::unique_ptr<seal::KeyVault> TestVault() {
  seal::MasterKeySource source;
  // A fixed test key (32 bytes of 0x42), as CERTGATE_MASTER_KEY would give it.
  source.env_value = "v1:QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=";
  source.create_file_if_missing = false;
  auto vault = seal::KeyVault::Open(source);
  EXPECT_TRUE(vault.ok()) << vault.error().message;
  return vault.ok() ? std::move(vault).value() : nullptr;
}

TEST(TicketKeysTest, NodesOnOneStoreShareOneKey) {
  store::testing::MemoryStore store;
  auto vault = TestVault();
  ASSERT_TRUE(vault);
  const Time now = FromUnixSeconds(1'700'000'000);
  TicketKeyRing a;
  TicketKeyRing b;
  ASSERT_TRUE(a.Refresh(store, *vault, now).ok());
  ASSERT_TRUE(b.Refresh(store, *vault, now + std::chrono::seconds(5)).ok());
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  auto ka = a.IssuingKey(now);
  auto kb = b.IssuingKey(now);
  ASSERT_TRUE(ka && kb);
  EXPECT_EQ(ka->name, kb->name);
  EXPECT_EQ(ka->aes, kb->aes);
  EXPECT_EQ(ka->hmac, kb->hmac);
  EXPECT_NE(b.Find(ka->name.data()), nullptr);
  // Sealed: the stored text (hex) holds neither key in the clear.
  const std::string stored = **store.GetSetting(kTicketKeysSetting);
  EXPECT_EQ(stored.find(HexEncode(ka->aes)), std::string::npos);
  EXPECT_EQ(stored.find(HexEncode(ka->hmac)), std::string::npos);
}

TEST(TicketKeysTest, RotationAddsAKeyThatIssuesOnlyOnceEveryNodeHasIt) {
  store::testing::MemoryStore store;
  auto vault = TestVault();
  ASSERT_TRUE(vault);
  TicketKeyOptions options;
  options.rotate_every = std::chrono::hours(12);
  options.keep = 3;
  options.usable_after = std::chrono::minutes(2);
  TicketKeyRing ring(options);
  Time t = FromUnixSeconds(1'700'000'000);
  ASSERT_TRUE(ring.Refresh(store, *vault, t).ok());
  auto first = ring.IssuingKey(t);
  ASSERT_TRUE(first);
  EXPECT_EQ(ring.IssuingKey(t + std::chrono::hours(1))->name, first->name);

  t += std::chrono::hours(12);
  ASSERT_TRUE(ring.Refresh(store, *vault, t).ok());
  EXPECT_EQ(ring.size(), 2u);
  // Not yet usable: the old key still issues; the new one already opens.
  EXPECT_EQ(ring.IssuingKey(t + std::chrono::minutes(1))->name, first->name);
  auto second = ring.IssuingKey(t + std::chrono::minutes(3));
  ASSERT_TRUE(second);
  EXPECT_NE(second->name, first->name);
  EXPECT_NE(ring.Find(first->name.data()), nullptr) << "old tickets still open";

  for (int i = 0; i < 3; ++i) {
    t += std::chrono::hours(12);
    ASSERT_TRUE(ring.Refresh(store, *vault, t).ok());
  }
  EXPECT_EQ(ring.size(), 3u) << "the newest `keep` are kept";
  EXPECT_EQ(ring.Find(first->name.data()), nullptr) << "the oldest is gone";
  // A refresh between rotations adds nothing.
  ASSERT_TRUE(ring.Refresh(store, *vault, t + std::chrono::hours(1)).ok());
  EXPECT_EQ(ring.size(), 3u);
}

// After a master key rotation the keys are re-sealed under the new version,
// so a node holding only the new version still reads them.
TEST(TicketKeysTest, RotationResealsTheKeysUnderTheNewMasterKeyVersion) {
  store::testing::MemoryStore store;
  auto v1 = TestVault();
  ASSERT_TRUE(v1);
  TicketKeyRing ring;
  ASSERT_TRUE(ring.Refresh(store, *v1, FromUnixSeconds(1'700'000'000)).ok());
  seal::MasterKeySource both;
  both.env_value = "v2:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,"
                   "v1:QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=";
  both.create_file_if_missing = false;
  auto rotated = seal::KeyVault::Open(both);
  ASSERT_TRUE(rotated.ok()) << rotated.error().message;
  ASSERT_TRUE(ResealTicketKeys(store, **rotated).ok());
  seal::MasterKeySource v2_only;
  v2_only.env_value = "v2:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
  v2_only.create_file_if_missing = false;
  auto v2 = seal::KeyVault::Open(v2_only);
  ASSERT_TRUE(v2.ok());
  TicketKeyRing after;
  auto refreshed = after.Refresh(store, **v2, FromUnixSeconds(1'700'000'100));
  ASSERT_TRUE(refreshed.ok()) << refreshed.error().message;
  ASSERT_EQ(after.size(), 1u) << "the same key, not a new one";
  EXPECT_EQ(after.IssuingKey(FromUnixSeconds(1'700'000'100))->name,
            ring.IssuingKey(FromUnixSeconds(1'700'000'100))->name);
}

}  // namespace
}  // namespace certgate::edge
