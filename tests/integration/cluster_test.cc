// Several `certgate serve` processes on one store, as a cluster runs them:
// started at once on an empty store they make one default certificate and
// one first account, and a node with another master key refuses to start.
// Each node has its own data directory (its own node id) and the same
// master key (CERTGATE_MASTER_KEY), as an operator sets a cluster up.
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/testing/temp_dir.h"
#include "store/store.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"
#include "support/edge_peers.h"
#include "support/process.h"

namespace certgate::testing {
namespace {

std::string RandomMasterKey() {
  unsigned char key[32];
  randombytes_buf(key, sizeof key);
  char b64[sodium_base64_ENCODED_LEN(sizeof key, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(b64, sizeof b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
  return std::string("v1:") + b64;
}

// A serial as openssl and the API may spell it: lower-case, no leading zeros.
std::string Canonical(std::string serial) {
  for (char& c : serial) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  serial.erase(0, std::min(serial.find_first_not_of('0'), serial.size()));
  return serial;
}

// One request over TLS to port with openssl s_client, saving the session
// (and its ticket) to sess_out, or offering the one in sess_in. What
// s_client printed.
std::string HandshakeAndRequest(uint16_t port, const std::string& sess_flag,
                                const std::filesystem::path& sess_file) {
  RunResult r = RunCommand(
      {"/usr/bin/openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port),
       "-servername", "nobody.example.net", "-tls1_3", "-ign_eof", sess_flag, sess_file.string()},
      {}, std::string("GET / HTTP/1.1\r\nHost: nobody.example.net\r\nConnection: close\r\n\r\n"),
      std::chrono::seconds(20));
  return r.out;
}

class ClusterTest : public ::testing::Test {
 protected:
  // The store every node shares.
  std::string StoreUrl() const { return "sqlite:" + (dir_.path() / "shared.db").string(); }

  ServerOptions NodeOptions(const std::string& name, const std::string& master_key) const {
    ServerOptions o;
    o.data_dir = dir_.path() / name;
    o.env = {{"CERTGATE_MASTER_KEY", master_key}};
    o.extra_args = {"--store", StoreUrl()};
    return o;
  }

  TempDir dir_{"cluster"};
  const std::string key_ = RandomMasterKey();
};

TEST_F(ClusterTest, NodesStartedAtOnceMakeOneDefaultCertificateAndOneAccount) {
  constexpr int kNodes = 3;
  std::vector<ServerOptions> options;
  for (int i = 0; i < kNodes; ++i) options.push_back(NodeOptions("node" + std::to_string(i), key_));
  std::vector<std::unique_ptr<CertgateServer>> nodes = CertgateServer::StartTogether(options);
  for (const auto& node : nodes) ASSERT_NE(node, nullptr);

  int printed_keys = 0;
  for (const auto& node : nodes) printed_keys += node->api_key().empty() ? 0 : 1;
  EXPECT_EQ(printed_keys, 1) << "exactly one node made the first account and printed its key";

  auto store = store::OpenStore(StoreUrl());
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ(*(*store)->CountAccounts(), 1);
  store::ListQuery all;
  all.limit = 100;
  auto own = (*store)->ListCertificates("", all);
  ASSERT_TRUE(own.ok()) << own.error().message;
  EXPECT_EQ(own->items.size(), 1u) << "one default certificate, none left over";

  // Every node serves that one as its default (a name nobody reserved).
  std::set<std::string> served;
  for (const auto& node : nodes) {
    served.insert(OpensslServedSerial(node->https_port(), "nobody.example.net"));
  }
  EXPECT_EQ(served.size(), 1u);
  EXPECT_FALSE(served.begin()->empty());
  ASSERT_EQ(own->items.size(), 1u);
  EXPECT_EQ(Canonical(*served.begin()), Canonical(own->items.front().serial_number));

  // The key the one node printed works on every node.
  std::string key;
  for (const auto& node : nodes) {
    if (!node->api_key().empty()) key = node->api_key();
  }
  for (const auto& node : nodes) {
    ApiResult listed = Call(node->Client(key), verb::get, "/tls_certificates");
    EXPECT_EQ(listed.status, 200) << listed.raw;
  }
}

// The ticket keys are in the store: a session from one node resumes on another.
TEST_F(ClusterTest, ASessionTicketFromOneNodeResumesOnAnother) {
  auto a = CertgateServer::Start(NodeOptions("a", key_));
  ASSERT_NE(a, nullptr);
  auto b = CertgateServer::Start(NodeOptions("b", key_));
  ASSERT_NE(b, nullptr);
  const auto session = dir_.path() / "session.pem";
  const std::string first = HandshakeAndRequest(a->https_port(), "-sess_out", session);
  ASSERT_NE(first.find("New, TLSv1.3"), std::string::npos) << first;
  ASSERT_TRUE(std::filesystem::exists(session)) << first;
  const std::string resumed = HandshakeAndRequest(b->https_port(), "-sess_in", session);
  EXPECT_NE(resumed.find("Reused, TLSv1.3"), std::string::npos) << resumed;
}

TEST_F(ClusterTest, ANodeWithAnotherMasterKeyRefusesToStart) {
  auto first = CertgateServer::Start(NodeOptions("a", key_));
  ASSERT_NE(first, nullptr);
  ServerOptions other = NodeOptions("b", RandomMasterKey());
  std::vector<std::string> argv = {CertgateBinary(), "serve", "--data-dir", other.data_dir.string(),
                                   "--store", StoreUrl(), "--api-listen", "127.0.0.1:0",
                                   "--https-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"};
  RunResult refused = RunCommand(argv, other.env);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("CERTGATE_MASTER_KEY"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("same master key"), std::string::npos) << refused.err;
  // Nothing was written under the other key: the first node's store is as it was.
  auto store = store::OpenStore(StoreUrl());
  ASSERT_TRUE(store.ok());
  store::ListQuery all;
  all.limit = 100;
  EXPECT_EQ((*store)->ListCertificates("", all)->items.size(), 1u);
  // The same key still starts.
  auto again = CertgateServer::Start(NodeOptions("c", key_));
  EXPECT_NE(again, nullptr);
}

}  // namespace
}  // namespace certgate::testing
