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
  ASSERT_TRUE(VerifyMasterKey(store, store, *a, "node A's key").ok());
  auto stored = store.GetSetting(kMasterKeyCheckSetting);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  // Hex of a sealed blob (the check holds no key material).
  EXPECT_EQ((*stored)->find_first_not_of("0123456789abcdef"), std::string::npos);
  auto second = VerifyMasterKey(store, store, *b, "node B's key");
  EXPECT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(**store.GetSetting(kMasterKeyCheckSetting), **stored);  // not replaced
}

TEST(MasterKeyCheckTest, AnotherKeyIsRefusedSayingWhatToDo) {
  store::testing::MemoryStore store;
  auto a = VaultOf(RandomKeyEntry(1));
  auto other = VaultOf(RandomKeyEntry(1));
  ASSERT_TRUE(a && other);
  ASSERT_TRUE(VerifyMasterKey(store, store, *a, "node A's key").ok());
  auto refused = VerifyMasterKey(store, store, *other, "the master key file /x/master.key");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kMasterKeyMismatch);
  EXPECT_NE(refused.error().message.find("the master key file /x/master.key"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("same master key"), std::string::npos);

  // A key set lacking the version that sealed the check is refused too.
  auto v2_only = VaultOf(RandomKeyEntry(2));
  ASSERT_TRUE(v2_only);
  auto lacking = VerifyMasterKey(store, store, *v2_only, "CERTGATE_MASTER_KEY");
  ASSERT_FALSE(lacking.ok());
  EXPECT_EQ(lacking.error().code, ErrorCode::kMasterKeyMismatch);
  EXPECT_NE(lacking.error().message.find("v1"), std::string::npos) << lacking.error().message;
}

// A store from before the check: its first check is sealed only by a key
// that opens what the store holds.
TEST(MasterKeyCheckTest, AStoreWithKeysButNoCheckRefusesAnotherKey) {
  store::testing::MemoryStore store;
  auto right = VaultOf(RandomKeyEntry(1));
  auto wrong = VaultOf(RandomKeyEntry(1));
  ASSERT_TRUE(right && wrong);
  store::Certificate cert;
  cert.id = "cert_sealed";
  const uint8_t plain[] = {1, 2, 3};
  auto blob = right->Seal(plain, cert.id);
  ASSERT_TRUE(blob.ok());
  cert.private_key = store::SealedKey{1, *blob};
  cert.not_after = FromUnixSeconds(1'800'000'000);
  ASSERT_TRUE(store.InsertCertificate(cert).ok());
  auto refused = VerifyMasterKey(store, store, *wrong, "the wrong key");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kMasterKeyMismatch);
  EXPECT_NE(refused.error().message.find("the wrong key"), std::string::npos);
  EXPECT_FALSE(store.GetSetting(kMasterKeyCheckSetting)->has_value()) << "nothing written";
  EXPECT_TRUE(VerifyMasterKey(store, store, *right, "the right key").ok());
}

TEST(MasterKeyCheckTest, RotationResealsTheCheckUnderTheNewVersion) {
  store::testing::MemoryStore store;
  const std::string v1 = RandomKeyEntry(1);
  auto old_vault = VaultOf(v1);
  ASSERT_TRUE(old_vault);
  ASSERT_TRUE(VerifyMasterKey(store, store, *old_vault, "v1").ok());
  const std::string v2 = RandomKeyEntry(2);
  auto rotated = VaultOf(v2 + "," + v1);
  ASSERT_TRUE(rotated);
  ASSERT_TRUE(ResealMasterKeyCheck(store, *rotated).ok());
  // Sealed under v2 now: a process that holds only v2 (v1 retired) opens it,
  // one that holds only v1 cannot.
  auto v2_only = VaultOf(v2);
  ASSERT_TRUE(v2_only);
  auto opened = VerifyMasterKey(store, store, *v2_only, "v2 only");
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_FALSE(VerifyMasterKey(store, store, *old_vault, "v1 only").ok());
  // Re-sealing again changes nothing.
  const std::string before = **store.GetSetting(kMasterKeyCheckSetting);
  ASSERT_TRUE(ResealMasterKeyCheck(store, *rotated).ok());
  EXPECT_EQ(**store.GetSetting(kMasterKeyCheckSetting), before);
}

}  // namespace
}  // namespace certgate::app
