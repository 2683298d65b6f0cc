// CertificateMirror over a MemoryStore and a real SQLite file: a fill copies
// every certificate, the feed brings new and deleted ones, a re-sealed key
// is copied again, and the copy outlives the process that made it.
#include "edge/certificate_mirror.h"

#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "core/ids.h"
#include "core/testing/temp_dir.h"
#include "store/testing/memory_store.h"

namespace certgate::edge {
namespace {

// A service certificate (no account) whose fields derive from n.
store::Certificate MakeCert(int n) {
  store::Certificate c;
  c.id = NewId("cert");
  c.created_at = FromUnixSeconds(1'700'000'000);
  c.certificate_pem = "PEM " + std::to_string(n);
  c.not_before = c.created_at;
  c.not_after = c.created_at + std::chrono::hours(24);
  c.serial_number = std::to_string(n);
  c.private_key = store::SealedKey{1, {static_cast<uint8_t>(n), 7, 7}};
  return c;
}

class CertificateMirrorTest : public ::testing::Test {
 protected:
  std::unique_ptr<CertificateMirror> Open() {
    auto mirror = CertificateMirror::Open(dir_.path() / "copy.db", store_, store_, store_);
    EXPECT_TRUE(mirror.ok()) << mirror.error().message;
    return mirror.ok() ? std::move(*mirror) : nullptr;
  }
  std::optional<store::Certificate> Kept(CertificateMirror& mirror, const std::string& id) {
    auto got = mirror.Get(id);
    EXPECT_TRUE(got.ok()) << got.error().message;
    return got.ok() ? *got : std::nullopt;
  }

  certgate::testing::TempDir dir_{"mirror"};
  store::testing::MemoryStore store_;
};

TEST_F(CertificateMirrorTest, FillsThenFollowsNewAndDeletedCertificates) {
  const store::Certificate a = MakeCert(1);
  const store::Certificate b = MakeCert(2);
  ASSERT_TRUE(store_.InsertCertificate(a).ok());
  ASSERT_TRUE(store_.InsertCertificate(b).ok());
  auto mirror = Open();
  ASSERT_NE(mirror, nullptr);
  EXPECT_FALSE(Kept(*mirror, a.id).has_value()) << "nothing before the first fill";
  ASSERT_TRUE(mirror->CatchUp().ok());
  auto kept = Kept(*mirror, a.id);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->certificate_pem, a.certificate_pem);
  EXPECT_EQ(kept->private_key, a.private_key);
  EXPECT_TRUE(Kept(*mirror, b.id).has_value());
  EXPECT_EQ(mirror->stats().held, 2);
  EXPECT_EQ(mirror->stats().fills, 1);

  const store::Certificate c = MakeCert(3);
  ASSERT_TRUE(store_.InsertCertificate(c).ok());
  auto deleted = store_.DeleteCertificate("", b.id);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  ASSERT_TRUE(mirror->CatchUp().ok());
  EXPECT_TRUE(Kept(*mirror, c.id).has_value()) << "a new certificate, from the feed";
  EXPECT_FALSE(Kept(*mirror, b.id).has_value()) << "a deleted one is dropped";
  EXPECT_EQ(mirror->stats().held, 2);
  EXPECT_EQ(mirror->stats().fills, 1) << "followed, not filled again";

  // The file is its owner's only: it holds sealed keys.
  struct stat st {};
  ASSERT_EQ(::stat((dir_.path() / "copy.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
}

TEST_F(CertificateMirrorTest, AnExistingCopyOthersCouldReadIsNarrowed) {
  {
    auto first = Open();
    ASSERT_NE(first, nullptr);
  }
  const std::string file = (dir_.path() / "copy.db").string();
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  auto again = Open();
  ASSERT_NE(again, nullptr);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(CertificateMirrorTest, ANewProcessFindsTheCopyAndRefreshesWhatChangedMeanwhile) {
  const store::Certificate a = MakeCert(1);
  const store::Certificate b = MakeCert(2);
  ASSERT_TRUE(store_.InsertCertificate(a).ok());
  ASSERT_TRUE(store_.InsertCertificate(b).ok());
  {
    auto first = Open();
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(first->CatchUp().ok());
  }
  // While no node follows: a key re-sealed (a master key rotation) and a
  // certificate deleted.
  const store::SealedKey resealed{2, {9, 9, 9}};
  ASSERT_TRUE(*store_.ReplaceSealedKey(a.id, a.private_key, resealed));
  ASSERT_TRUE(store_.DeleteCertificate("", b.id).ok());

  auto second = Open();
  ASSERT_NE(second, nullptr);
  // Before its fill, the copy the last process left is there to serve from.
  auto kept = Kept(*second, a.id);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->private_key, a.private_key);
  ASSERT_TRUE(second->CatchUp().ok());
  kept = Kept(*second, a.id);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->private_key, resealed);
  EXPECT_FALSE(Kept(*second, b.id).has_value());
  EXPECT_EQ(second->stats().held, 1);
  EXPECT_EQ(second->stats().copied, 1) << "only what differed is copied again";
}

}  // namespace
}  // namespace certgate::edge
