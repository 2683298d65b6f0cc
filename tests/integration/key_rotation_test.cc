// `certgate admin keys rotate` while `certgate serve` runs: every key is
// re-sealed under the new master key version, uploads keep working, and
// readers in other processes keep opening keys throughout.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "pki/testing/cert_factory.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"

namespace certgate::testing {
namespace {

namespace json = boost::json;
using pki::testing::CertSpec;
using pki::testing::MakeChain;
using pki::testing::TestKeyType;

std::string UploadOne(const client::ApiClient& client, int i) {
  CertSpec spec;
  spec.common_name = "rot" + std::to_string(i) + ".example.com";
  auto chain = MakeChain(TestKeyType::kEcP256, spec, false);
  ApiResult r = Call(client, verb::post, "/tls_certificates",
                     UploadBody(chain.BundlePem(), pki::testing::KeyPemPkcs8(chain.leaf_key.get())));
  EXPECT_EQ(r.status, 201) << r.raw;
  return r.status == 201 ? std::string(r.json.at("id").as_string()) : "";
}

std::string KeyVersions(const std::filesystem::path& db) {
  return RunCommand({"/usr/bin/sqlite3", "-cmd", ".timeout 5000", db.string(),
              "SELECT key_version, count(*) FROM tls_certificates GROUP BY key_version;"})
      .out;
}

TEST(KeyRotationTest, RotatesWhileServingWithoutInterruptingReadersOrWriters) {
  TempDir dir;
  const auto data = dir.path() / "data";
  auto server = CertgateServer::Start(ServerOptions::InDir(data));
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  for (int i = 0; i < 30; ++i) UploadOne(client, i);
  EXPECT_EQ(KeyVersions(data / "certgate.db"), "1|31\n");

  // Writers through the API and readers in other processes, during rotation.
  std::atomic<bool> stop{false};
  std::atomic<int> uploads{0}, upload_failures{0}, verifies{0}, verify_failures{0};
  std::thread writer([&] {
    auto c = server->Client();
    for (int i = 100; !stop; ++i) {
      (UploadOne(c, i).empty() ? upload_failures : uploads)++;
    }
  });
  std::thread reader([&] {
    while (!stop) {
      RunResult v = server->Admin({"keys", "verify"});
      (v.exit_code == 0 ? verifies : verify_failures)++;
      if (v.exit_code != 0) ADD_FAILURE() << v.out << v.err;
    }
  });
  RunResult rotate = server->Admin({"keys", "rotate"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  writer.join();
  reader.join();

  ASSERT_EQ(rotate.exit_code, 0) << rotate.err;
  EXPECT_NE(rotate.out.find("master key version 2 is current; re-sealed"), std::string::npos)
      << rotate.out;
  EXPECT_GT(uploads.load(), 0);
  EXPECT_EQ(upload_failures.load(), 0);
  EXPECT_GT(verifies.load(), 0);
  EXPECT_EQ(verify_failures.load(), 0);

  // The key file holds both versions and stays private.
  const std::string keyfile = ReadFile(data / "master.key");
  EXPECT_NE(keyfile.find("\nv1 "), std::string::npos);
  EXPECT_NE(keyfile.find("\nv2 "), std::string::npos);
  struct stat st {};
  ASSERT_EQ(stat((data / "master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Uploads after the rotation are sealed under v2 by the running server,
  // which picked up the new key file by itself.
  UploadOne(client, 1000);
  RunResult again = server->Admin({"keys", "rotate"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("master key version 3 is current"), std::string::npos) << again.out;
  std::string versions = KeyVersions(data / "certgate.db");
  EXPECT_EQ(versions.rfind("3|", 0), 0u) << versions;
  EXPECT_EQ(versions.find('\n'), versions.size() - 1) << "all keys under one version: " << versions;
  RunResult verify = server->Admin({"keys", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

TEST(KeyRotationTest, WithTheEnvironmentVariableANewVersionMustBeAddedFirst) {
  TempDir dir;
  const auto data = dir.path() / "data";
  RunResult k1 = RunCommand({CertgateBinary(), "admin", "keys", "generate"});
  RunResult k2 = RunCommand({CertgateBinary(), "admin", "keys", "generate"});
  ASSERT_EQ(k1.exit_code, 0);
  const std::string v1 = k1.out.substr(0, k1.out.size() - 1);
  const std::string v2 = k2.out.substr(0, k2.out.size() - 1);
  ASSERT_EQ(v1.size(), 44u);
  ASSERT_NE(v1, v2);

  {
    auto server = CertgateServer::Start(ServerOptions::InDir(data, {{"CERTGATE_MASTER_KEY", v1}}));
    ASSERT_NE(server, nullptr);
    UploadOne(server->Client(), 1);
    EXPECT_EQ(server->Stop(), 0);
  }
  EXPECT_FALSE(std::filesystem::exists(data / "master.key"));

  std::vector<std::string> rotate = {CertgateBinary(), "admin", "keys", "rotate", "--data-dir",
                                     data.string()};
  RunResult refused = RunCommand(rotate, {{"CERTGATE_MASTER_KEY", v1}});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("add a new version first"), std::string::npos) << refused.err;

  const std::string both = "v2:" + v2 + ",v1:" + v1;
  RunResult rotated = RunCommand(rotate, {{"CERTGATE_MASTER_KEY", both}});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  EXPECT_NE(rotated.out.find("master key version 2 is current; re-sealed 2 keys"),
            std::string::npos)
      << rotated.out;
  EXPECT_EQ(KeyVersions(data / "certgate.db"), "2|2\n");

  // Only v2 is needed now; v1 alone opens nothing, and is refused at once
  // (the store's master key check was re-sealed under v2 too).
  std::vector<std::string> verify = {CertgateBinary(), "admin", "keys", "verify", "--data-dir",
                                     data.string()};
  EXPECT_EQ(RunCommand(verify, {{"CERTGATE_MASTER_KEY", "v2:" + v2}}).exit_code, 0);
  RunResult old_only = RunCommand(verify, {{"CERTGATE_MASTER_KEY", v1}});
  EXPECT_EQ(old_only.exit_code, 1);
  EXPECT_NE(old_only.err.find("sealed under master key version v2, which CERTGATE_MASTER_KEY "
                              "does not have"),
            std::string::npos)
      << old_only.err;
}

}  // namespace
}  // namespace certgate::testing
