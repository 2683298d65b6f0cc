// Several `certgate serve` processes on one store, as a cluster runs them,
// on both backends (one SQLite file; one PostgreSQL database): started at
// once on an empty store they make one default certificate and one first
// account; a node with another master key refuses to start; a change made
// through one node is served by the others within a second; a session
// resumes on another node. Each node has its own data directory (its own
// node id) and the same master key (CERTGATE_MASTER_KEY), as an operator
// sets a cluster up.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "core/testing/temp_dir.h"
#include "store/store.h"
#include "pki/testing/cert_factory.h"
#include "store/testing/pg_test_server.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"
#include "support/edge_peers.h"
#include "support/process.h"

namespace certgate::testing {
namespace {

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

// Uploads a certificate for name through client; its id and serial.
std::pair<std::string, std::string> UploadFor(const client::ApiClient& client,
                                              const std::string& name) {
  pki::testing::CertSpec spec;
  spec.common_name = name;
  spec.dns_names = {name};
  auto chain = pki::testing::MakeChain(pki::testing::TestKeyType::kEcP256, spec, false);
  const std::string key_pem = pki::testing::KeyPemPkcs8(chain.leaf_key.get());
  ApiResult r = Call(client, verb::post, "/tls_certificates", UploadBody(chain.BundlePem(), key_pem));
  EXPECT_EQ(r.status, 201) << r.raw;
  if (r.status != 201) return {};
  return {std::string(r.json.at("id").as_string()),
          std::string(r.json.at("serial_number").as_string())};
}

// How long after `since` every node presented the certificate with serial
// for name, checking each by handshakes until then; nullopt if one had not
// within 10 s.
std::optional<std::chrono::milliseconds> ServedEverywhere(
    const std::vector<std::unique_ptr<CertgateServer>>& nodes, const std::string& name,
    const std::string& serial, std::chrono::steady_clock::time_point since) {
  const auto deadline = since + std::chrono::seconds(10);
  for (const auto& node : nodes) {
    for (;;) {
      std::string error;
      auto tls = TlsClient::Connect(node->https_port(), TlsClientOptions{.sni = name}, &error);
      if (tls && Canonical(tls->PeerSerial()) == Canonical(serial)) break;
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since);
}

enum class Backend { kSqlite, kPostgres };

class ClusterTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kSqlite) {
      url_ = "sqlite:" + (dir_.path() / "shared.db").string();
      return;
    }
    auto db = store::testing::NewDatabase();
    ASSERT_TRUE(db.ok()) << db.error().message;
    url_ = *db;
  }
  // The nodes, local to each test, are gone by now.
  void TearDown() override {
    if (GetParam() == Backend::kPostgres && !url_.empty()) store::testing::DropDatabase(url_);
  }

  // The store every node shares.
  const std::string& StoreUrl() const { return url_; }

  ServerOptions NodeOptions(const std::string& name, const std::string& master_key) const {
    ServerOptions o;
    o.data_dir = dir_.path() / name;
    o.env = {{"CERTGATE_MASTER_KEY", master_key}};
    o.extra_args = {"--store", StoreUrl()};
    return o;
  }

  TempDir dir_{"cluster"};
  std::string url_;
  const std::string key_ = RandomMasterKey();
};

INSTANTIATE_TEST_SUITE_P(Backends, ClusterTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& backend) {
                           return backend.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

TEST_P(ClusterTest, NodesStartedAtOnceMakeOneDefaultCertificateAndOneAccount) {
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

// Other nodes learn of a change from the store's feed (PostgreSQL: at once,
// through LISTEN; both: a poll every 250 ms).
TEST_P(ClusterTest, AChangeThroughOneNodeIsServedByEveryNodeWithinASecond) {
  std::vector<ServerOptions> options;
  for (const char* name : {"a", "b", "c"}) options.push_back(NodeOptions(name, key_));
  std::vector<std::unique_ptr<CertgateServer>> nodes = CertgateServer::StartTogether(options);
  for (const auto& node : nodes) ASSERT_NE(node, nullptr);
  std::string key;
  for (const auto& node : nodes) {
    if (!node->api_key().empty()) key = node->api_key();
  }
  ASSERT_FALSE(key.empty());
  const std::string name = "app.cluster.example.com";

  auto [first_id, first_serial] = UploadFor(nodes[0]->Client(key), name);
  ASSERT_FALSE(first_id.empty());
  ApiResult reserved = Call(nodes[0]->Client(key), verb::post, "/reserved_domains",
                            boost::json::object{{"domain", name}, {"certificate_id", first_id}});
  ASSERT_EQ(reserved.status, 201) << reserved.raw;
  auto took = ServedEverywhere(nodes, name, first_serial, std::chrono::steady_clock::now());
  ASSERT_TRUE(took.has_value()) << "a node never served the new domain's certificate";
  EXPECT_LE(took->count(), 1000) << "new domain: " << took->count() << " ms to the slowest node";

  // Replaced through another node, uploaded through a third.
  auto [second_id, second_serial] = UploadFor(nodes[1]->Client(key), name);
  ASSERT_FALSE(second_id.empty());
  const std::string domain_id(reserved.json.at("id").as_string());
  ApiResult patched = Call(nodes[2]->Client(key), verb::patch, "/reserved_domains/" + domain_id,
                           boost::json::object{{"certificate_id", second_id}});
  ASSERT_EQ(patched.status, 200) << patched.raw;
  took = ServedEverywhere(nodes, name, second_serial, std::chrono::steady_clock::now());
  ASSERT_TRUE(took.has_value()) << "a node kept serving the replaced certificate";
  EXPECT_LE(took->count(), 1000) << "replaced: " << took->count() << " ms to the slowest node";
}

// The ticket keys are in the store: a session from one node resumes on another.
TEST_P(ClusterTest, ASessionTicketFromOneNodeResumesOnAnother) {
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

TEST_P(ClusterTest, ANodeWithAnotherMasterKeyRefusesToStart) {
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


// ---- PostgreSQL only: its listener session, and the database going away ----

// A PostgreSQL server of the test's own (pg_test_cluster.sh), since these
// tests stop it or end its sessions.
class OwnPostgres {
 public:
  OwnPostgres() : dir_(fmt::format("/tmp/cgpg-{}-{}", getpid(), Counter()++)) {
    RunResult started = Script("start");
    EXPECT_EQ(started.exit_code, 0) << started.err;
    // The test cluster commits without waiting for its WAL (nothing in it
    // must outlive the tests); this one is stopped as if it crashed, and
    // what committed must be there when it comes back.
    Psql("ALTER SYSTEM SET synchronous_commit = on");
    Psql("SELECT pg_reload_conf()");
  }
  ~OwnPostgres() { Script("stop"); }
  std::string Conninfo() const { return "host=" + dir_ + "/socket user=postgres dbname=postgres"; }
  void Halt() { EXPECT_EQ(Script("halt").exit_code, 0); }
  void Resume() {
    RunResult resumed = Script("resume");
    EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  }
  // Runs sql on the server with psql; its output.
  std::string Psql(const std::string& sql) const {
    RunResult r = RunCommand({"/usr/bin/psql", "-h", dir_ + "/socket", "-U", "postgres", "-Atc",
                              sql});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

 private:
  static int& Counter() {
    static int n = 0;
    return n;
  }
  RunResult Script(const std::string& command) const {
    return RunCommand({"/bin/bash", CERTGATE_PG_TEST_CLUSTER_SCRIPT, command, dir_});
  }
  std::string dir_;
};

class PostgresClusterTest : public ::testing::Test {
 protected:
  std::vector<std::unique_ptr<CertgateServer>> StartNodes(int n) {
    std::vector<ServerOptions> options;
    for (int i = 0; i < n; ++i) {
      ServerOptions o;
      o.data_dir = dir_.path() / ("node" + std::to_string(i));
      o.env = {{"CERTGATE_MASTER_KEY", key_}};
      o.extra_args = {"--store", pg_.Conninfo()};
      options.push_back(std::move(o));
    }
    return CertgateServer::StartTogether(options);
  }
  static std::string KeyOf(const std::vector<std::unique_ptr<CertgateServer>>& nodes) {
    for (const auto& node : nodes) {
      if (!node->api_key().empty()) return node->api_key();
    }
    return "";
  }
  // Reserves name with a new certificate through node; the certificate's serial.
  static std::string Reserve(const CertgateServer& node, const std::string& key,
                             const std::string& name) {
    auto [id, serial] = UploadFor(node.Client(key), name);
    ApiResult r = Call(node.Client(key), verb::post, "/reserved_domains",
                       boost::json::object{{"domain", name}, {"certificate_id", id}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return serial;
  }

  TempDir dir_{"pgcluster"};
  OwnPostgres pg_;
  const std::string key_ = RandomMasterKey();
};

// The listener's session is ended by the server: the node listens again on
// a new one (and its feed followers' poll covers the gap meanwhile).
TEST_F(PostgresClusterTest, AListenerWhoseSessionEndsListensAgainAndTheNodeConverges) {
  auto nodes = StartNodes(2);
  for (const auto& node : nodes) ASSERT_NE(node, nullptr);
  const std::string key = KeyOf(nodes);
  const std::string ended = pg_.Psql(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'");
  EXPECT_EQ(ended, "2\n") << "one listening session per node";
  const std::string serial = Reserve(*nodes[0], key, "after.cluster.example.com");
  auto took = ServedEverywhere(nodes, "after.cluster.example.com", serial,
                               std::chrono::steady_clock::now());
  ASSERT_TRUE(took.has_value());
  EXPECT_LE(took->count(), 1000);
  // Both listen again, each on a new session.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string listening;
  while (std::chrono::steady_clock::now() < deadline) {
    listening = pg_.Psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'");
    if (listening == "2\n") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(listening, "2\n");
  for (const auto& node : nodes) {
    const std::string log = ReadFile(node->stderr_path());
    size_t sessions = 0;
    for (size_t at = log.find("listening for other nodes' changes"); at != std::string::npos;
         at = log.find("listening for other nodes' changes", at + 1)) {
      ++sessions;
    }
    EXPECT_GE(sessions, 2u) << log;
  }
}

// The database goes away: every node keeps serving the names it serves; the
// API answers 503 with the store's error and writes nothing; once it is back,
// writes work again and every node catches up, by itself.
TEST_F(PostgresClusterTest, WhilePostgresIsAwayNodesServeAndTheApiAnswers503ThenAllResume) {
  auto nodes = StartNodes(2);
  for (const auto& node : nodes) ASSERT_NE(node, nullptr);
  const std::string key = KeyOf(nodes);
  const std::string before = Reserve(*nodes[0], key, "kept.cluster.example.com");
  ASSERT_TRUE(ServedEverywhere(nodes, "kept.cluster.example.com", before,
                               std::chrono::steady_clock::now())
                  .has_value());

  pg_.Halt();
  ASSERT_TRUE(ServedEverywhere(nodes, "kept.cluster.example.com", before,
                               std::chrono::steady_clock::now())
                  .has_value())
      << "a node stopped serving a name it knows";
  for (const auto& node : nodes) {
    ApiResult write = Call(node->Client(key), verb::post, "/reserved_domains",
                           boost::json::object{{"domain", "during.cluster.example.com"}});
    EXPECT_TRUE(IsError(write, 503, 404, "cannot be reached")) << write.raw;
    EXPECT_EQ(write.raw.find("/tmp/cgpg-"), std::string::npos) << "the database's address";
    // Not ready for new traffic, and saying why.
    ApiResult ready = CallRaw(node->Client(key), verb::get, "/readyz", "");
    EXPECT_EQ(ready.status, 503) << ready.raw;
    EXPECT_NE(ready.raw.find("the store cannot be reached"), std::string::npos) << ready.raw;
  }

  pg_.Resume();
  // The first request after the restart may find a pooled session gone
  // (503); the API works again within seconds.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    status = Call(nodes[1]->Client(key), verb::get, "/reserved_domains").status;
    if (status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(status, 200);
  EXPECT_EQ(CallRaw(nodes[1]->Client(key), verb::get, "/readyz", "").status, 200);
  const std::string after = Reserve(*nodes[1], key, "after.cluster.example.com");
  auto took = ServedEverywhere(nodes, "after.cluster.example.com", after,
                               std::chrono::steady_clock::now());
  ASSERT_TRUE(took.has_value()) << "a node did not catch up after the database came back";
  // Nothing of the refused writes was stored.
  ApiResult listed = Call(nodes[0]->Client(key), verb::get, "/reserved_domains");
  EXPECT_EQ(listed.raw.find("during.cluster.example.com"), std::string::npos) << listed.raw;
}

// A node keeps a copy of every certificate on its disk: while the database
// is away it serves a name it never served before (no TLS context built for
// it there), from that copy.
TEST_F(PostgresClusterTest, WhilePostgresIsAwayANodeServesANameItNeverServedBefore) {
  auto nodes = StartNodes(2);
  for (const auto& node : nodes) ASSERT_NE(node, nullptr);
  const std::string key = KeyOf(nodes);
  auto [cold_id, cold_serial] = UploadFor(nodes[0]->Client(key), "cold.cluster.example.com");
  ASSERT_FALSE(cold_id.empty());
  ApiResult reserved =
      Call(nodes[0]->Client(key), verb::post, "/reserved_domains",
           boost::json::object{{"domain", "cold.cluster.example.com"}, {"certificate_id", cold_id}});
  ASSERT_EQ(reserved.status, 201) << reserved.raw;
  // A later name, served by node 1: its names are then at least as new as
  // the cold one, whose context node 1 has not built.
  const std::string probe = Reserve(*nodes[0], key, "probe.cluster.example.com");
  ASSERT_TRUE(ServedEverywhere(nodes, "probe.cluster.example.com", probe,
                               std::chrono::steady_clock::now())
                  .has_value());
  const std::string copy = (nodes[1]->data_dir() / "edge-certificates.db").string();
  ASSERT_TRUE(Eventually(
      [&] {
        return RunCommand({"/usr/bin/sqlite3", copy,
                           "SELECT count(*) FROM certificates WHERE id = '" + cold_id + "'"})
                   .out == "1\n";
      },
      std::chrono::seconds(10)))
      << "node 1 never copied the certificate";

  pg_.Halt();
  std::string error;
  auto tls = TlsClient::Connect(nodes[1]->https_port(),
                                TlsClientOptions{.sni = "cold.cluster.example.com"}, &error);
  ASSERT_TRUE(tls) << error;
  EXPECT_EQ(Canonical(tls->PeerSerial()), Canonical(cold_serial));
  EXPECT_NE(ReadFile(nodes[1]->stderr_path()).find("from this node's copy"), std::string::npos);
  pg_.Resume();
}

}  // namespace
}  // namespace certgate::testing
