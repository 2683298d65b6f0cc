// Store URLs (OpenStore) and plan names.
#include <filesystem>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "core/testing/temp_dir.h"
#include "store/store.h"

namespace certgate::store {
namespace {

namespace fs = std::filesystem;
using certgate::testing::TempDir;

TEST(StoreUrlTest, OpensSqliteUrls) {
  TempDir dir;
  auto store = OpenStore("sqlite:" + (dir.path() / "a.db").string());
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_TRUE((*store)->CountAccounts().ok());
  auto uri = OpenStore("sqlite://" + (dir.path() / "b.db").string());
  ASSERT_TRUE(uri.ok()) << uri.error().message;
  EXPECT_TRUE(fs::exists(dir.path() / "b.db"));
}

TEST(StoreUrlTest, PostgresFormsReachForTheServerAndNeverShowThePassword) {
  // Nothing listens on port 1 of this host, nor in a socket directory that
  // does not exist: each form is understood, and the connection refused.
  for (std::string_view url :
       {"postgres://u:hunter2@127.0.0.1:1/certgate?connect_timeout=2",
        "postgresql://u:hunter2@127.0.0.1:1/x?connect_timeout=2",
        "host=/nonexistent/certgate-test-socket dbname=x password=hunter2",
        "  host = /nonexistent/certgate-test-socket password=hunter2"}) {
    auto store = OpenStore(url);
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.error().code, ErrorCode::kStoreUnavailable) << store.error().message;
    EXPECT_NE(store.error().message.find("PostgreSQL"), std::string::npos) << store.error().message;
    EXPECT_EQ(store.error().message.find("hunter2"), std::string::npos) << store.error().message;
  }
}

// libpq quotes what it cannot parse, password and all: refused in our words.
TEST(StoreUrlTest, AMalformedPostgresStringIsRefusedWithoutQuotingIt) {
  for (std::string_view url : {"postgresql://u:Hunter%zz2secret@127.0.0.1:1/x",
                               "host=/nonexistent password=hunter2 secretpart"}) {
    auto store = OpenStore(url);
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.error().code, ErrorCode::kStoreUrlInvalid) << store.error().message;
    EXPECT_EQ(store.error().message.find("secret"), std::string::npos) << store.error().message;
    EXPECT_EQ(store.error().message.find("hunter2"), std::string::npos) << store.error().message;
  }
}

TEST(StoreUrlTest, RefusesOtherUrls) {
  for (std::string_view url : {"", "sqlite:", "sqlite://host/x.db", "/var/lib/certgate.db",
                               "mysql://u:hunter2@h/d", "certgate.db"}) {
    auto store = OpenStore(url);
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.error().code, ErrorCode::kStoreUrlInvalid) << url;
    EXPECT_NE(store.error().message.find("sqlite:/path/to/certgate.db"), std::string::npos)
        << store.error().message;
    EXPECT_EQ(store.error().message.find("hunter2"), std::string::npos);
  }
}

TEST(StoreUrlTest, PlanNamesRoundTrip) {
  EXPECT_EQ(PlanName(Plan::kFree), "free");
  EXPECT_EQ(PlanName(Plan::kPayg), "payg");
  EXPECT_EQ(ParsePlan("free"), Plan::kFree);
  EXPECT_EQ(ParsePlan("payg"), Plan::kPayg);
  EXPECT_EQ(ParsePlan("Free"), std::nullopt);
  EXPECT_EQ(ParsePlan(""), std::nullopt);
}

TEST(StoreUrlTest, KeyTypeAndAuthorityNamesRoundTrip) {
  EXPECT_EQ(KeyTypeName(KeyType::kEcdsa), "ecdsa");
  EXPECT_EQ(KeyTypeName(KeyType::kRsa), "rsa");
  EXPECT_EQ(ParseKeyType("ecdsa"), KeyType::kEcdsa);
  EXPECT_EQ(ParseKeyType("rsa"), KeyType::kRsa);
  EXPECT_EQ(ParseKeyType("RSA"), std::nullopt);
  EXPECT_EQ(ParseKeyType("ed25519"), std::nullopt);
  EXPECT_EQ(AuthorityName(Authority::kLetsEncrypt), "letsencrypt");
  EXPECT_EQ(ParseAuthority("letsencrypt"), Authority::kLetsEncrypt);
  EXPECT_EQ(ParseAuthority("zerossl"), std::nullopt);
  EXPECT_EQ(ParseAuthority(""), std::nullopt);
}

}  // namespace
}  // namespace certgate::store
