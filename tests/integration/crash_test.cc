// SIGKILL in the middle of a stream of uploads: after a restart every upload
// that got a 201 is there and whole, nothing else exists but the few requests
// in flight at the kill, and every sealed key still opens.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
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

TEST(CrashTest, SigkillDuringUploadsLosesNoAcknowledgedRecordAndLeavesNoPartialOne) {
  constexpr int kClients = 3;
  constexpr int kBodies = 600;
  // Distinct certificates, generated before the clock starts.
  struct Upload {
    std::string description;
    std::string chain_pem;
    std::string body;
  };
  std::vector<Upload> uploads;
  for (int i = 0; i < kBodies; ++i) {
    CertSpec spec;
    spec.common_name = "crash" + std::to_string(i) + ".example.com";
    spec.dns_names = {spec.common_name};
    auto chain = MakeChain(i % 5 == 0 ? TestKeyType::kRsa2048 : TestKeyType::kEcP256, spec,
                           /*reuse_leaf_key=*/i % 5 == 0);
    json::object body = UploadBody(chain.BundlePem(), pki::testing::KeyPemPkcs8(chain.leaf_key.get()))
                            .as_object();
    std::string description = "upload-" + std::to_string(i);
    body["description"] = description;
    uploads.push_back({description, chain.BundlePem(), json::serialize(body)});
  }

  TempDir dir;
  const auto data = dir.path() / "data";
  auto server = CertgateServer::Start(ServerOptions::InDir(data));
  ASSERT_NE(server, nullptr);
  const std::string key = server->api_key();

  std::mutex mu;
  std::map<std::string, std::string> acked;  // id -> description
  std::set<std::string> sent;
  std::atomic<int> next{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&] {
      auto client = server->Client(key);
      while (!stop) {
        int i = next++;
        if (i >= kBodies) return;
        {
          std::lock_guard lock(mu);
          sent.insert(uploads[i].description);
        }
        auto res = client.Send(verb::post, "/tls_certificates", uploads[i].body);
        if (!res) return;  // the server is gone
        if (res->status != 201) {
          ADD_FAILURE() << "upload failed: " << res->body;
          return;
        }
        auto id = json::parse(res->body).at("id").as_string();
        std::lock_guard lock(mu);
        acked[std::string(id)] = uploads[i].description;
      }
    });
  }
  // Let a good number of uploads through, then kill without warning.
  for (int waited = 0; waited < 200; ++waited) {
    {
      std::lock_guard lock(mu);
      if (acked.size() >= 40) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  server->Kill();
  stop = true;
  for (auto& c : clients) c.join();
  ASSERT_GE(acked.size(), 20u) << "too few uploads before the kill to mean anything";
  ASSERT_LT(acked.size(), static_cast<size_t>(kBodies)) << "the kill came after the last upload";

  auto restarted = CertgateServer::Start(ServerOptions::InDir(data));
  ASSERT_NE(restarted, nullptr);
  auto client = restarted->Client(key);
  std::map<std::string, json::object> present;
  std::string path = "/tls_certificates?limit=100";
  for (;;) {
    ApiResult r = Call(client, verb::get, path);
    ASSERT_EQ(r.status, 200) << r.raw;
    for (const auto& item : r.json.at("tls_certificates").as_array()) {
      present[std::string(item.at("id").as_string())] = item.as_object();
    }
    if (r.json.at("next_page_uri").is_null()) break;
    path = std::string(r.json.at("next_page_uri").as_string()).substr(client.base_url().size());
  }

  std::map<std::string, const Upload*> by_description;
  for (const auto& u : uploads) by_description[u.description] = &u;
  for (const auto& [id, description] : acked) {
    ASSERT_TRUE(present.count(id)) << "acknowledged upload " << description << " (" << id
                                   << ") is missing after the crash";
    const json::object& o = present[id];
    EXPECT_EQ(o.at("description").as_string(), description);
    EXPECT_EQ(o.at("certificate_pem").as_string(), by_description[description]->chain_pem);
  }
  size_t unacked = 0;
  for (const auto& [id, o] : present) {
    std::string description(o.at("description").as_string());
    ASSERT_TRUE(sent.count(description)) << id << " is a record nobody sent";
    EXPECT_EQ(o.at("certificate_pem").as_string(), by_description[description]->chain_pem);
    if (!acked.count(id)) ++unacked;
  }
  // Only requests in flight at the kill may have landed without their 201.
  EXPECT_LE(unacked, static_cast<size_t>(kClients));

  RunResult verify = restarted->Admin({"keys", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_EQ(verify.out, std::to_string(present.size() + 1) + " keys verified, 0 failed\n");
  RunResult integrity =
      RunCommand({"/usr/bin/sqlite3", "-cmd", ".timeout 5000", (data / "certgate.db").string(), "PRAGMA integrity_check;"});
  EXPECT_EQ(integrity.out, "ok\n") << integrity.err;
}

}  // namespace
}  // namespace certgate::testing
