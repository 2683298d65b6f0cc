// VerifyMasterKey and ResealMasterKeyCheck over a MemoryStore: processes with
// the same master key agree, one with another key (or lacking the version
// that sealed the check) is refused, and rotation re-seals the check.
#include "app/master_key_check.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <sodium.h>

#include "seal/key_vault.h"
#include "store/testing/memory_store.h"

namespace certgate::app {
namespace {

// CERTGATE_MASTER_KEY's form: "v<N>:<base64>" entries, comma-separated.
std::string RandomKeyEntry(uint32_t version) {
  unsigned char key[seal::kMasterKeyBytes];
  randombytes_buf(key, sizeof key);
  char b64[sodium_base64_ENCODED_LEN(sizeof key, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(b64, sizeof b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
  return "v" + std::to_string(version) + ":" + b64;
}

std::unique_ptr<seal::KeyVault> VaultOf(const std::string& keys) {
  seal::MasterKeySource source;
  source.env_value = keys;
  source.create_file_if_missing = false;
  auto vault = seal::KeyVault::Open(source);
  EXPECT_TRUE(vault.ok()) << vault.error().message;
  return vault.ok() ? std::move(vault).value() : nullptr;
}

TEST(MasterKeyCheckTest, TheFirstProcessSetsItAndTheSameKeyOpensIt) {
  store::testing::MemoryStore store;
  const std::string keys = RandomKeyEntry(1);
  auto a = VaultOf(keys);
  auto b = VaultOf(keys);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(VerifyMasterKey(store, *a, "node A's key").ok());
  auto stored = store.GetSetting(kMasterKeyCheckSetting);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  // The check holds no key: a sealed fixed text, hex.
  EXPECT_EQ((*stored)->find_first_not_of("0123456789abcdef"), std::string::npos);
  auto second = VerifyMasterKey(store, *b, "node B's key");
  EXPECT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(**store.GetSetting(kMasterKeyCheckSetting), **stored);  // not replaced
}

TEST(MasterKeyCheckTest, AnotherKeyIsRefusedSayingWhatToDo) {
  store::testing::MemoryStore store;
  auto a = VaultOf(RandomKeyEntry(1));
  auto other = VaultOf(RandomKeyEntry(1));
  ASSERT_TRUE(a && other);
  ASSERT_TRUE(VerifyMasterKey(store, *a, "node A's key").ok());
  auto refused = VerifyMasterKey(store, *other, "the master key file /x/master.key");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kMasterKeyMismatch);
  EXPECT_NE(refused.error().message.find("the master key file /x/master.key"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("same master key"), std::string::npos);

  // A key set lacking the version that sealed the check is refused too.
  auto v2_only = VaultOf(RandomKeyEntry(2));
  ASSERT_TRUE(v2_only);
  auto lacking = VerifyMasterKey(store, *v2_only, "CERTGATE_MASTER_KEY");
  ASSERT_FALSE(lacking.ok());
  EXPECT_EQ(lacking.error().code, ErrorCode::kMasterKeyMismatch);
  EXPECT_NE(lacking.error().message.find("v1"), std::string::npos) << lacking.error().message;
}

TEST(MasterKeyCheckTest, RotationResealsTheCheckUnderTheNewVersion) {
  store::testing::MemoryStore store;
  const std::string v1 = RandomKeyEntry(1);
  auto old_vault = VaultOf(v1);
  ASSERT_TRUE(old_vault);
  ASSERT_TRUE(VerifyMasterKey(store, *old_vault, "v1").ok());
  const std::string v2 = RandomKeyEntry(2);
  auto rotated = VaultOf(v2 + "," + v1);
  ASSERT_TRUE(rotated);
  ASSERT_TRUE(ResealMasterKeyCheck(store, *rotated).ok());
  // Sealed under v2 now: a process that holds only v2 (v1 retired) opens it,
  // one that holds only v1 cannot.
  auto v2_only = VaultOf(v2);
  ASSERT_TRUE(v2_only);
  auto opened = VerifyMasterKey(store, *v2_only, "v2 only");
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_FALSE(VerifyMasterKey(store, *old_vault, "v1 only").ok());
  // Re-sealing again changes nothing.
  const std::string before = **store.GetSetting(kMasterKeyCheckSetting);
  ASSERT_TRUE(ResealMasterKeyCheck(store, *rotated).ok());
  EXPECT_EQ(**store.GetSetting(kMasterKeyCheckSetting), before);
}

}  // namespace
}  // namespace certgate::app
