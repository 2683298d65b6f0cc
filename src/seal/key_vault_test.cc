#include "seal/key_vault.h"

#include <array>
#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/testing/temp_dir.h"

namespace certgate::seal {
namespace {

namespace fs = std::filesystem;

using certgate::testing::TempDir;

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::string Base64Of(const std::vector<uint8_t>& bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::vector<uint8_t> Filled(size_t n, uint8_t value) { return std::vector<uint8_t>(n, value); }

MasterKeySource FileSource(const fs::path& file, bool create = true) {
  MasterKeySource source;
  source.file = file;
  source.create_file_if_missing = create;
  return source;
}

MasterKeySource EnvSource(std::string value) {
  MasterKeySource source;
  source.env_value = std::move(value);
  return source;
}

mode_t ModeOf(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0);
  return st.st_mode & 07777;
}

void WriteText(const fs::path& path, std::string_view text, mode_t mode) {
  {
    std::ofstream out(path);
    out << text;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

// Simulates `certgate admin keys rotate` in another process: reads the file,
// adds a version, writes it back atomically.
void RotateFile(const fs::path& path) {
  auto keys = LoadMasterKeys(FileSource(path, false));
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  keys->AddGenerated();
  auto written = WriteMasterKeyFile(path, *keys);
  ASSERT_TRUE(written.ok()) << written.error().message;
}

// ---- MasterKeys: parsing and formatting ----

TEST(MasterKeysTest, ParseFileReadsVersionsAndSkipsComments) {
  const auto k1 = Filled(32, 0x11);
  const auto k3 = Filled(32, 0x33);
  std::string text = "# a comment\n\n   \nv1 " + Base64Of(k1) +
                     "\r\n  # indented comment\n\tv3   " + Base64Of(k3) + "  \n";
  auto keys = MasterKeys::ParseFile(text);
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_EQ(keys->versions(), (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(keys->current_version(), 3u);
  ASSERT_NE(keys->Find(1), nullptr);
  EXPECT_TRUE(keys->Find(1)->Equals(k1));
  EXPECT_TRUE(keys->Find(3)->Equals(k3));
  EXPECT_EQ(keys->Find(2), nullptr);
}

TEST(MasterKeysTest, ParseFileRejectsBadLinesNamingTheLine) {
  const std::string good = Base64Of(Filled(32, 0x42));
  const std::string short_key = Base64Of(Filled(16, 0x42));
  struct Case {
    std::string text;
    std::string line;  // expected in the message
  };
  const Case cases[] = {
      {"v1 !!!!not*base64!!!!\n", "line 1 "},                       // bad base64
      {"# header\nv1 " + short_key + "\n", "line 2 "},              // wrong length
      {"v1 " + good + "\n\nv1 " + good + "\n", "line 3 "},          // duplicate version
      {"v0 " + good + "\n", "line 1 "},                             // v0
      {"v1 " + good + "\nhello world\n", "line 2 "},                // garbage
      {"v1 " + good + "\ngarbage\n", "line 2 "},                    // no key at all
      {"vx " + good + "\n", "line 1 "},                             // version not a number
      {"1 " + good + "\n", "line 1 "},                              // no 'v'
      {"v1 " + good + " extra\n", "line 1 "},                       // a third field
      {"v99999999999 " + good + "\n", "line 1 "},                   // version overflows
      {"v1 " + good.substr(0, good.size() - 1) + "\n", "line 1 "},  // padding missing
  };
  for (const Case& c : cases) {
    auto keys = MasterKeys::ParseFile(c.text);
    ASSERT_FALSE(keys.ok()) << c.text;
    EXPECT_EQ(keys.error().code, ErrorCode::kMasterKeyInvalid) << c.text;
    EXPECT_NE(keys.error().message.find(c.line), std::string::npos)
        << c.text << " -> " << keys.error().message;
    // Messages never repeat key material.
    EXPECT_EQ(keys.error().message.find(good.substr(0, 20)), std::string::npos);
  }
}

TEST(MasterKeysTest, ParseFileRejectsAFileWithoutKeys) {
  for (std::string_view text : {"", "# only a comment\n\n"}) {
    auto keys = MasterKeys::ParseFile(text);
    ASSERT_FALSE(keys.ok());
    EXPECT_EQ(keys.error().code, ErrorCode::kMasterKeyInvalid);
    EXPECT_NE(keys.error().message.find("no key"), std::string::npos);
  }
}

TEST(MasterKeysTest, ParseEnvAcceptsABareKeyAsVersionOne) {
  const auto k = Filled(32, 0x07);
  auto keys = MasterKeys::ParseEnv("  " + Base64Of(k) + "\n");
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_EQ(keys->versions(), (std::vector<uint32_t>{1}));
  EXPECT_TRUE(keys->Find(1)->Equals(k));
}

TEST(MasterKeysTest, ParseEnvAcceptsVersionedEntriesWithAnySeparator) {
  const auto k1 = Filled(32, 1);
  const auto k2 = Filled(32, 2);
  const auto k7 = Filled(32, 7);
  const std::string text =
      "v1:" + Base64Of(k1) + ", v2:" + Base64Of(k2) + ";\n v7:" + Base64Of(k7) + ";";
  auto keys = MasterKeys::ParseEnv(text);
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_EQ(keys->versions(), (std::vector<uint32_t>{1, 2, 7}));
  EXPECT_EQ(keys->current_version(), 7u);
  EXPECT_TRUE(keys->Find(2)->Equals(k2));
  EXPECT_TRUE(keys->Find(7)->Equals(k7));
}

TEST(MasterKeysTest, ParseEnvRejectsBadEntriesNamingTheEntry) {
  const std::string good = Base64Of(Filled(32, 9));
  struct Case {
    std::string text;
    std::string place;
  };
  const Case cases[] = {
      {"", "holds no key"},
      {" ,; ", "holds no key"},
      {"not*base64", "CERTGATE_MASTER_KEY"},
      {Base64Of(Filled(31, 9)), "CERTGATE_MASTER_KEY"},  // wrong length
      {"v1:" + good + ",v2:%%%", "entry 2 "},            // bad base64
      {"v1:" + good + ",v1:" + good, "entry 2 "},        // duplicate
      {"v0:" + good, "entry 1 "},                        // v0
      {"v1:" + good + ",garbage", "entry 2 "},           // no colon
      {"v1:" + good + " " + good, "entry 2 "},           // bare key among entries
      {"x1:" + good, "entry 1 "},                        // bad version
      {"v2:" + Base64Of(Filled(40, 9)), "entry 1 "},     // wrong length
  };
  for (const Case& c : cases) {
    auto keys = MasterKeys::ParseEnv(c.text);
    ASSERT_FALSE(keys.ok()) << c.text;
    EXPECT_EQ(keys.error().code, ErrorCode::kMasterKeyInvalid) << c.text;
    EXPECT_NE(keys.error().message.find(c.place), std::string::npos)
        << c.text << " -> " << keys.error().message;
    EXPECT_EQ(keys.error().message.find(good.substr(0, 20)), std::string::npos);
  }
}

TEST(MasterKeysTest, AddGeneratedCountsUpFromOne) {
  MasterKeys keys;
  EXPECT_TRUE(keys.empty());
  keys.AddGenerated();
  EXPECT_EQ(keys.current_version(), 1u);
  keys.AddGenerated();
  EXPECT_EQ(keys.current_version(), 2u);
  ASSERT_NE(keys.Find(1), nullptr);
  ASSERT_NE(keys.Find(2), nullptr);
  EXPECT_EQ(keys.Find(1)->size(), kMasterKeyBytes);
  EXPECT_FALSE(keys.Find(1)->Equals(keys.Find(2)->span()));
}

TEST(MasterKeysTest, FormatFileRoundTripsThroughParseFile) {
  MasterKeys keys;
  for (int i = 0; i < 3; ++i) keys.AddGenerated();
  std::string text = keys.FormatFile();
  EXPECT_EQ(text.rfind("# ", 0), 0u) << "starts with a comment header";
  EXPECT_NE(text.find("los"), std::string::npos) << "explains that losing the file loses keys";
  auto parsed = MasterKeys::ParseFile(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_EQ(parsed->versions(), keys.versions());
  for (uint32_t v : keys.versions()) EXPECT_TRUE(parsed->Find(v)->Equals(keys.Find(v)->span()));
}

// ---- Key files ----

TEST(MasterKeysFileTest, CreatedWithMode0600EvenUnderUmask000) {
  TempDir dir;
  const fs::path path = dir.path() / "master.key";
  mode_t old_umask = ::umask(0);
  auto keys = LoadMasterKeys(FileSource(path));
  ::umask(old_umask);
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_EQ(keys->versions(), (std::vector<uint32_t>{1}));
  EXPECT_EQ(ModeOf(path), 0600u);
  // Loading again reads the same key instead of making another.
  auto again = LoadMasterKeys(FileSource(path));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->Find(1)->Equals(keys->Find(1)->span()));
}

TEST(MasterKeysFileTest, RefusesAFileOthersMayRead) {
  TempDir dir;
  const fs::path path = dir.path() / "master.key";
  MasterKeys keys;
  keys.AddGenerated();
  WriteText(path, keys.FormatFile(), 0644);
  auto loaded = LoadMasterKeys(FileSource(path));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kMasterKeyPermissions);
  EXPECT_NE(loaded.error().message.find("chmod 600 " + path.string()), std::string::npos)
      << loaded.error().message;
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  EXPECT_EQ(LoadMasterKeys(FileSource(path)).error().code, ErrorCode::kMasterKeyPermissions);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(LoadMasterKeys(FileSource(path)).ok());
}

TEST(MasterKeysFileTest, RefusesASymlink) {
  TempDir dir;
  const fs::path real = dir.path() / "real.key";
  const fs::path link = dir.path() / "master.key";
  MasterKeys keys;
  keys.AddGenerated();
  WriteText(real, keys.FormatFile(), 0600);
  fs::create_symlink(real, link);
  auto loaded = LoadMasterKeys(FileSource(link));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kMasterKeyPermissions);
  EXPECT_NE(loaded.error().message.find("symbolic link"), std::string::npos);

  // A dangling link is not followed to create a file at its target either.
  const fs::path dangling = dir.path() / "dangling.key";
  fs::create_symlink(dir.path() / "nowhere.key", dangling);
  EXPECT_FALSE(LoadMasterKeys(FileSource(dangling)).ok());
  EXPECT_FALSE(fs::exists(dir.path() / "nowhere.key"));
}

TEST(MasterKeysFileTest, MissingFileIsAnErrorWhenCreationIsNotAllowed) {
  TempDir dir;
  const fs::path path = dir.path() / "master.key";
  auto loaded = LoadMasterKeys(FileSource(path, /*create=*/false));
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("does not exist"), std::string::npos);
  EXPECT_FALSE(fs::exists(path));
}

TEST(MasterKeysFileTest, MalformedFileNamesPathAndLine) {
  TempDir dir;
  const fs::path path = dir.path() / "master.key";
  WriteText(path, "# keys\nv1 nonsense\n", 0600);
  auto loaded = LoadMasterKeys(FileSource(path));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kMasterKeyInvalid);
  EXPECT_NE(loaded.error().message.find("line 2"), std::string::npos);
  EXPECT_NE(loaded.error().message.find(path.string()), std::string::npos);
}

TEST(MasterKeysFileTest, WriteIsAtomicAndLeavesMode0600) {
  TempDir dir;
  const fs::path path = dir.path() / "master.key";
  MasterKeys keys;
  keys.AddGenerated();
  keys.AddGenerated();
  mode_t old_umask = ::umask(0);
  auto written = WriteMasterKeyFile(path, keys);
  ::umask(old_umask);
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_EQ(ModeOf(path), 0600u);
  // Overwrite: a new inode replaces the old; no temporary file is left behind.
  keys.AddGenerated();
  ASSERT_TRUE(WriteMasterKeyFile(path, keys).ok());
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1);
  auto loaded = LoadMasterKeys(FileSource(path, false));
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->versions(), (std::vector<uint32_t>{1, 2, 3}));
  // An empty key set is never written.
  EXPECT_FALSE(WriteMasterKeyFile(path, MasterKeys()).ok());
  EXPECT_TRUE(LoadMasterKeys(FileSource(path, false)).ok());
}

TEST(MasterKeysFileTest, EnvironmentWinsOverTheFile) {
  TempDir dir;
  const std::string value = Base64Of(Filled(32, 5));
  ASSERT_EQ(::setenv(kMasterKeyEnv, value.c_str(), 1), 0);
  MasterKeySource source = MasterKeySource::FromEnvironmentOr(dir.path() / "master.key");
  ::unsetenv(kMasterKeyEnv);
  ASSERT_TRUE(source.env_value.has_value());
  auto keys = LoadMasterKeys(source);
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  EXPECT_TRUE(keys->Find(1)->Equals(Filled(32, 5)));
  EXPECT_FALSE(fs::exists(dir.path() / "master.key")) << "no file is created for an env source";

  MasterKeySource from_file = MasterKeySource::FromEnvironmentOr(dir.path() / "master.key");
  EXPECT_FALSE(from_file.env_value.has_value());
}

// ---- KeyVault ----

class KeyVaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() / "master.key";
    auto vault = KeyVault::Open(FileSource(path_));
    ASSERT_TRUE(vault.ok()) << vault.error().message;
    vault_ = std::move(vault).value();
  }

  std::vector<uint8_t> SealOk(KeyVault& vault, std::string_view text, std::string_view id) {
    auto blob = vault.Seal(Bytes(text), id);
    EXPECT_TRUE(blob.ok()) << blob.error().message;
    return blob.ok() ? *blob : std::vector<uint8_t>();
  }

  TempDir dir_;
  fs::path path_;
  std::unique_ptr<KeyVault> vault_;
};

TEST_F(KeyVaultTest, RoundTrip) {
  const std::string key_pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI...\n";
  auto blob = vault_->Seal(Bytes(key_pem), "cert_1");
  ASSERT_TRUE(blob.ok()) << blob.error().message;
  EXPECT_EQ(blob->size(), 1 + 4 + 24 + key_pem.size() + 16);
  auto opened = vault_->Unseal(*blob, "cert_1");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->view(), key_pem);

  // Two seals of the same plaintext differ (fresh nonce).
  auto again = vault_->Seal(Bytes(key_pem), "cert_1");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *blob);
}

TEST_F(KeyVaultTest, EmptyPlaintextRoundTrips) {
  auto blob = vault_->Seal({}, "cert_empty");
  ASSERT_TRUE(blob.ok());
  auto opened = vault_->Unseal(*blob, "cert_empty");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_TRUE(opened->empty());
}

TEST_F(KeyVaultTest, WrongRecordIdFails) {
  auto blob = SealOk(*vault_, "secret", "cert_a");
  for (std::string_view other : {"cert_b", "cert_", "", "cert_aa"}) {
    auto opened = vault_->Unseal(blob, other);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.error().code, ErrorCode::kUnsealFailed);
    EXPECT_EQ(opened.error().message.find("secret"), std::string::npos);
  }
}

TEST_F(KeyVaultTest, TamperedByteAnywhereFails) {
  const auto blob = SealOk(*vault_, "a private key, allegedly", "cert_t");
  for (size_t i = 0; i < blob.size(); ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      auto tampered = blob;
      tampered[i] ^= bit;
      auto opened = vault_->Unseal(tampered, "cert_t");
      ASSERT_FALSE(opened.ok()) << "byte " << i;
      if (i >= 1 && i <= 4) {
        // The version bytes: either names no loaded key, or (tested below) another one.
        EXPECT_EQ(opened.error().code, ErrorCode::kMasterKeyUnknownVersion) << "byte " << i;
      } else {
        EXPECT_EQ(opened.error().code, ErrorCode::kUnsealFailed) << "byte " << i;
      }
    }
  }
}

TEST_F(KeyVaultTest, VersionChangedToAnotherLoadedKeyFails) {
  const auto v1_blob = SealOk(*vault_, "sealed under v1", "cert_v");
  RotateFile(path_);
  const auto v2_blob = SealOk(*vault_, "sealed under v2", "cert_v");
  ASSERT_EQ(*KeyVault::BlobKeyVersion(v2_blob), 2u);
  auto relabelled = v2_blob;
  relabelled[4] = 1;  // claims v1, which is loaded
  auto opened = vault_->Unseal(relabelled, "cert_v");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kUnsealFailed);
  relabelled = v1_blob;
  relabelled[4] = 2;
  EXPECT_EQ(vault_->Unseal(relabelled, "cert_v").error().code, ErrorCode::kUnsealFailed);
}

TEST_F(KeyVaultTest, MalformedBlobsFail) {
  const auto blob = SealOk(*vault_, "x", "cert_m");
  for (size_t len : {size_t{0}, size_t{1}, size_t{5}, size_t{29}, size_t{44}}) {
    auto opened = vault_->Unseal(std::span(blob).first(len), "cert_m");
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.error().code, ErrorCode::kUnsealFailed) << len;
    EXPECT_EQ(KeyVault::BlobKeyVersion(std::span(blob).first(len)).error().code,
              ErrorCode::kUnsealFailed);
  }
  // One byte short of the tag: opens nothing.
  EXPECT_EQ(vault_->Unseal(std::span(blob).first(blob.size() - 1), "cert_m").error().code,
            ErrorCode::kUnsealFailed);
  auto other_format = blob;
  other_format[0] = 2;
  EXPECT_EQ(KeyVault::BlobKeyVersion(other_format).error().code, ErrorCode::kUnsealFailed);
}

TEST_F(KeyVaultTest, UnknownVersionAfterReloadFails) {
  auto blob = SealOk(*vault_, "x", "cert_u");
  blob[1] = 0;
  blob[2] = 0;
  blob[3] = 0;
  blob[4] = 99;
  auto opened = vault_->Unseal(blob, "cert_u");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kMasterKeyUnknownVersion);
  EXPECT_NE(opened.error().message.find("v99"), std::string::npos) << opened.error().message;
}

TEST_F(KeyVaultTest, VersionIsRecordedInTheBlob) {
  auto blob = SealOk(*vault_, "x", "cert_r");
  EXPECT_EQ(vault_->current_version(), 1u);
  EXPECT_EQ(*KeyVault::BlobKeyVersion(blob), 1u);
  EXPECT_EQ(blob[0], 1);
  EXPECT_EQ(blob[4], 1);
  RotateFile(path_);
  ASSERT_TRUE(vault_->Reload().ok());
  EXPECT_EQ(vault_->current_version(), 2u);
  auto blob2 = SealOk(*vault_, "x", "cert_r");
  EXPECT_EQ(*KeyVault::BlobKeyVersion(blob2), 2u);
  // The old blob still opens.
  EXPECT_TRUE(vault_->Unseal(blob, "cert_r").ok());
}

TEST_F(KeyVaultTest, RotationByAnotherProcessIsPickedUp) {
  const auto old_blob = SealOk(*vault_, "old", "cert_old");

  // "Another process": its own vault on the same file rotates the key.
  auto other = KeyVault::Open(FileSource(path_));
  ASSERT_TRUE(other.ok()) << other.error().message;
  RotateFile(path_);
  ASSERT_TRUE((*other)->Reload().ok());
  ASSERT_EQ((*other)->current_version(), 2u);
  const auto new_blob = SealOk(**other, "new", "cert_new");
  ASSERT_EQ(*KeyVault::BlobKeyVersion(new_blob), 2u);

  // The first vault opens a blob of the new version (reload on unknown version).
  auto opened = vault_->Unseal(new_blob, "cert_new");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(opened->view(), "new");

  // And seals under the new version after another rotation it was not told of.
  RotateFile(path_);
  const auto sealed = SealOk(*vault_, "fresh", "cert_fresh");
  EXPECT_EQ(*KeyVault::BlobKeyVersion(sealed), 3u);
  auto back = (*other)->Unseal(sealed, "cert_fresh");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->view(), "fresh");
  EXPECT_TRUE(vault_->Unseal(old_blob, "cert_old").ok());
}

TEST_F(KeyVaultTest, SealRefusesWhenTheKeyFileWasRemoved) {
  ASSERT_TRUE(fs::remove(path_));
  auto blob = vault_->Seal(Bytes("x"), "cert_gone");
  ASSERT_FALSE(blob.ok());
  EXPECT_FALSE(fs::exists(path_)) << "a vanished key file is never replaced by a new key";
}

TEST_F(KeyVaultTest, SealRefusesWhenTheKeyFileBecameReadableByOthers) {
  // chmod alone changes ctime, which the vault notices.
  ASSERT_EQ(::chmod(path_.c_str(), 0644), 0);
  auto blob = vault_->Seal(Bytes("x"), "cert_perm");
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.error().code, ErrorCode::kMasterKeyPermissions);
}

TEST(KeyVaultEnvTest, EnvironmentSourceNeverReloads) {
  const auto k = Filled(32, 0x5a);
  auto vault = KeyVault::Open(EnvSource("v4:" + Base64Of(k)));
  ASSERT_TRUE(vault.ok()) << vault.error().message;
  EXPECT_EQ((*vault)->current_version(), 4u);
  auto blob = (*vault)->Seal(Bytes("env"), "cert_env");
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(*KeyVault::BlobKeyVersion(*blob), 4u);
  EXPECT_TRUE((*vault)->Reload().ok());
  auto opened = (*vault)->Unseal(*blob, "cert_env");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->view(), "env");
  auto unknown = *blob;
  unknown[4] = 5;
  EXPECT_EQ((*vault)->Unseal(unknown, "cert_env").error().code,
            ErrorCode::kMasterKeyUnknownVersion);
}

TEST(KeyVaultEnvTest, SameKeyOpensAcrossVaults) {
  const std::string value = Base64Of(Filled(32, 0x21));
  auto a = KeyVault::Open(EnvSource(value));
  auto b = KeyVault::Open(EnvSource(value));
  ASSERT_TRUE(a.ok() && b.ok());
  auto blob = (*a)->Seal(Bytes("shared"), "cert_s");
  ASSERT_TRUE(blob.ok());
  auto opened = (*b)->Unseal(*blob, "cert_s");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->view(), "shared");
  auto other = KeyVault::Open(EnvSource(Base64Of(Filled(32, 0x22))));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)->Unseal(*blob, "cert_s").error().code, ErrorCode::kUnsealFailed);
}

TEST_F(KeyVaultTest, ConcurrentSealAndUnsealWhileAnotherProcessRotates) {
  constexpr int kWorkers = 4;
  constexpr int kRotations = 8;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<int> operations{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      std::vector<std::pair<std::string, std::vector<uint8_t>>> sealed;
      uint32_t last_version = 0;
      for (int i = 0; !done.load() || i < 20; ++i) {
        const std::string id = "cert_" + std::to_string(w) + "_" + std::to_string(i);
        const std::string text = "key material " + id;
        auto blob = vault_->Seal(Bytes(text), id);
        if (!blob.ok()) {
          ++failures;
          continue;
        }
        uint32_t version = *KeyVault::BlobKeyVersion(*blob);
        if (version < last_version) ++failures;  // never goes back to an older key
        last_version = version;
        auto opened = vault_->Unseal(*blob, id);
        if (!opened.ok() || opened->view() != text) ++failures;
        sealed.emplace_back(id, std::move(blob).value());
        // Old blobs keep opening as versions are added.
        const auto& [old_id, old_blob] = sealed[static_cast<size_t>(i) / 2];
        auto old_opened = vault_->Unseal(old_blob, old_id);
        if (!old_opened.ok() || old_opened->view() != "key material " + old_id) ++failures;
        ++operations;
      }
    });
  }
  std::thread rotator([&] {
    // A separate vault stands in for another process's `admin keys rotate`.
    auto other = KeyVault::Open(FileSource(path_));
    if (!other.ok()) {
      ++failures;
      return;
    }
    for (int r = 0; r < kRotations; ++r) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      RotateFile(path_);
      if (!(*other)->Reload().ok()) ++failures;
      // Blobs the other process seals open in ours, whatever it has loaded yet.
      const std::string id = "cert_other_" + std::to_string(r);
      auto blob = (*other)->Seal(Bytes("other"), id);
      if (!blob.ok()) {
        ++failures;
        continue;
      }
      auto opened = vault_->Unseal(*blob, id);
      if (!opened.ok() || opened->view() != "other") ++failures;
    }
    done = true;
  });
  rotator.join();
  for (auto& t : workers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(operations.load(), kWorkers * 20 - 1);
  EXPECT_EQ(vault_->current_version(), static_cast<uint32_t>(kRotations + 1));
}

}  // namespace
}  // namespace certgate::seal
