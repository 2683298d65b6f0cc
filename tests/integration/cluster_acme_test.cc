// Managed certificates in a three-node cluster on one PostgreSQL database,
// against real peers on 127.0.0.1: Pebble (the CA), pebble-challtestsrv (the
// customer's DNS) and unbound (the resolver Pebble and the nodes use).
// Pebble's HTTP-01 checks go to one chosen node (through a HoldingRelay the
// test controls), and unbound asks one chosen node's DNS for the base zone,
// so a test decides which node answers the CA; nodes started with
// --acme-concurrency 0 order nothing. Jobs have short leases (--acme-lease 6):
// a node killed or paused while the CA validates leaves its order to another
// node, which resumes the same order with the same key, and the paused node,
// resumed, can no longer write the job.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "core/testing/temp_dir.h"
#include "store/testing/pg_test_server.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"
#include "support/challtestsrv.h"
#include "support/edge_peers.h"
#include "support/holding_relay.h"
#include "support/pebble.h"
#include "support/process.h"
#include "support/unbound.h"

namespace certgate::testing {
namespace {

namespace json = boost::json;
using std::chrono::seconds;

constexpr char kBase[] = "certgate.test";
constexpr char kCustomer[] = "customer.test";
constexpr int kNodes = 3;

// How many times needle occurs in text.
size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

struct Layout {
  std::vector<bool> orders;  // per node: whether it orders certificates
  int http_node = 0;         // the node Pebble's HTTP-01 checks reach
  int dns_node = 0;          // the node unbound asks for the base zone
};

class AcmeCluster {
 public:
  explicit AcmeCluster(Layout layout) : layout_(std::move(layout)) {
    auto db = store::testing::NewDatabase();
    if (!db.ok()) throw std::runtime_error("no test database: " + db.error().message);
    url_ = *db;
    for (int i = 0; i < kNodes; ++i) {
      dns_ports_.push_back(PickFreePort(true));
      http_ports_.push_back(PickFreePort());
    }
    customer_ = std::make_unique<ChallTestSrv>();
    unbound_ = std::make_unique<Unbound>(
        std::vector<StubZone>{{kCustomer, "127.0.0.1", customer_->dns_port()},
                              {kBase, "127.0.0.1", dns_ports_[layout_.dns_node]}});
    relay_ = std::make_unique<HoldingRelay>(http_ports_[layout_.http_node]);
    PebbleOptions po;
    po.http_port = relay_->port();
    po.dns_server = unbound_->address();
    pebble_ = std::make_unique<Pebble>(po);

    std::vector<ServerOptions> options;
    for (int i = 0; i < kNodes; ++i) {
      ServerOptions o;
      o.data_dir = dir_.path() / ("node" + std::to_string(i));
      o.env = {{"CERTGATE_MASTER_KEY", master_key_}};
      o.extra_args = {"--store",          url_,
                      "--base-domain",    kBase,
                      "--http-listen",    "127.0.0.1:" + std::to_string(http_ports_[i]),
                      "--dns-listen",     "127.0.0.1:" + std::to_string(dns_ports_[i]),
                      "--edge-address",   "127.0.0.1",
                      "--resolver",       unbound_->address(),
                      "--acme-directory", pebble_->directory_url(),
                      "--acme-ca-file",   pebble_->ca_file(),
                      "--acme-retry-min", "1",
                      "--acme-retry-max", "2",
                      "--acme-lease",     "6",
                      "--acme-concurrency", layout_.orders[i] ? "4" : "0"};
      options.push_back(std::move(o));
    }
    nodes_ = CertgateServer::StartTogether(options);
    for (const auto& node : nodes_) {
      if (node == nullptr) throw std::runtime_error("a node did not start (see above)");
      if (!node->api_key().empty()) api_key_ = node->api_key();
    }
  }
  ~AcmeCluster() {
    nodes_.clear();
    store::testing::DropDatabase(url_);
  }

  CertgateServer& node(int i) { return *nodes_[i]; }
  HoldingRelay& relay() { return *relay_; }
  // Through node 2 unless told: the tests kill or pause only nodes 0 and 1.
  client::ApiClient Api(int via = 2) const { return nodes_[via]->Client(api_key_); }
  const std::string& store_url() const { return url_; }

  // Creates a managed domain through node `via` and adds the customer's
  // records for it (its CNAME; for a wildcard, the _acme-challenge one too).
  json::value CreateManaged(const std::string& name, int via = 2) {
    ApiResult r = Call(Api(via), verb::post, "/reserved_domains",
                       json::object{{"domain", name},
                                    {"certificate_management_policy",
                                     json::object{{"authority", "letsencrypt"},
                                                  {"private_key_type", "ecdsa"}}}});
    EXPECT_EQ(r.status, 201) << r.raw;
    customer_->SetCname(name, JsonString(r.json, "cname_target"));
    const std::string acme = JsonString(r.json, "acme_challenge_cname_target");
    if (!acme.empty()) customer_->SetCname("_acme-challenge." + name.substr(2), acme);
    return r.json;
  }

  // The domain's certificate id once it has one (within timeout), else "".
  std::string WaitForCertificate(const std::string& domain_id, seconds timeout) {
    std::string cert_id;
    Eventually(
        [&] {
          cert_id = CertificateOf(domain_id);
          return !cert_id.empty();
        },
        timeout);
    if (cert_id.empty()) {
      ADD_FAILURE() << "no certificate for " << domain_id << "; "
                    << Call(Api(), verb::get, "/reserved_domains/" + domain_id).raw << Logs();
    }
    return cert_id;
  }
  std::string CertificateOf(const std::string& domain_id) {
    json::value d = Call(Api(), verb::get, "/reserved_domains/" + domain_id).json;
    if (!d.is_object()) return "";
    const json::value* c = d.as_object().if_contains("certificate");
    return c != nullptr && c->is_object() ? JsonString(*c, "id") : "";
  }
  std::string SerialOf(const std::string& cert_id) {
    return JsonString(Call(Api(), verb::get, "/tls_certificates/" + cert_id).json,
                      "serial_number");
  }

  // Whether every running node presents serial for sni within 5 s.
  ::testing::AssertionResult ServedByEveryNode(const std::string& sni, const std::string& serial) {
    for (int i = 0; i < kNodes; ++i) {
      if (!nodes_[i]->process().running()) continue;
      std::string got;
      if (!Eventually(
              [&] {
                std::string error;
                auto tls = TlsClient::Connect(nodes_[i]->https_port(),
                                              TlsClientOptions{.sni = sni}, &error);
                got = tls ? tls->PeerSerial() : "handshake failed: " + error;
                return got == serial;
              },
              seconds(5))) {
        return ::testing::AssertionFailure()
               << "node " << i << " serves " << got << " for " << sni << ", not " << serial;
      }
    }
    return ::testing::AssertionSuccess();
  }

  // One value from the database, read with psql.
  std::string Sql(const std::string& query) const {
    RunResult r = RunCommand({"/usr/bin/psql", url_, "-Atc", query});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  // The node whose id holds the lease of the domain's job; -1 if none does.
  int LeaseHolder(const std::string& domain_id) const {
    const std::string owner = Sql(
        "SELECT lease_owner FROM provisioning_jobs WHERE lease_until > clock_timestamp()"
        " AND domain_id = '" + domain_id + "'");
    for (int i = 0; i < kNodes; ++i) {
      std::string id = ReadFile(nodes_[i]->data_dir() / "node-id");
      while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
      if (!owner.empty() && id == owner) return i;
    }
    return -1;
  }

  std::string Log(int i) const { return ReadFile(nodes_[i]->stderr_path()); }
  std::string Logs() const {
    std::string all;
    for (int i = 0; i < kNodes; ++i) {
      all += "\n--- node " + std::to_string(i) + " ---\n" + LogTail(Log(i), 4000);
    }
    return all;
  }

 private:
  Layout layout_;
  TempDir dir_{"acmecluster"};
  const std::string master_key_ = RandomMasterKey();
  std::string url_;
  std::vector<uint16_t> dns_ports_;
  std::vector<uint16_t> http_ports_;
  std::unique_ptr<ChallTestSrv> customer_;
  std::unique_ptr<Unbound> unbound_;
  std::unique_ptr<HoldingRelay> relay_;
  std::unique_ptr<Pebble> pebble_;
  std::vector<std::unique_ptr<CertgateServer>> nodes_;
  std::string api_key_;
};

// Node 0 orders; Pebble's HTTP-01 check is answered by node 1, and the
// DNS-01 TXT record by node 2's DNS: each node answers challenges it did not
// make, from the store's feed.
TEST(ClusterAcmeTest, ChallengesAreAnsweredByNodesOtherThanTheOneThatOrders) {
  AcmeCluster c(Layout{.orders = {true, false, false}, .http_node = 1, .dns_node = 2});
  json::value web = c.CreateManaged("web.customer.test", 2);
  json::value wild = c.CreateManaged("*.apps.customer.test", 1);
  const std::string web_cert = c.WaitForCertificate(JsonString(web, "id"), seconds(90));
  const std::string wild_cert = c.WaitForCertificate(JsonString(wild, "id"), seconds(90));
  ASSERT_FALSE(web_cert.empty());
  ASSERT_FALSE(wild_cert.empty());
  EXPECT_TRUE(c.ServedByEveryNode("web.customer.test", c.SerialOf(web_cert)));
  EXPECT_TRUE(c.ServedByEveryNode("one.apps.customer.test", c.SerialOf(wild_cert)));
  EXPECT_GE(Occurrences(c.Log(0), " ordered https://"), 2u) << c.Logs();
  for (int i : {1, 2}) {
    EXPECT_EQ(Occurrences(c.Log(i), " ordered https://"), 0u) << "node " << i << c.Logs();
  }
  EXPECT_EQ(c.Sql("SELECT count(*) FROM acme_accounts"), "1");
}

// Killed while the CA validates: the other ordering node takes the job over
// once the lease ends and finishes the same order with the same key.
TEST(ClusterAcmeTest, AKilledLeaseHolderLeavesTheSameOrderToAnotherNode) {
  AcmeCluster c(Layout{.orders = {true, true, false}, .http_node = 2, .dns_node = 2});
  c.relay().Hold();  // the CA's check waits: the order stays in flight
  json::value d = c.CreateManaged("crash.customer.test", 2);
  const std::string id = JsonString(d, "id");
  ASSERT_TRUE(Eventually([&] { return c.relay().waiting() > 0; }, seconds(30))) << c.Logs();
  const int holder = c.LeaseHolder(id);
  ASSERT_TRUE(holder == 0 || holder == 1) << holder << c.Logs();
  const int other = 1 - holder;
  const std::string order_url =
      c.Sql("SELECT order_url FROM provisioning_jobs WHERE domain_id = '" + id + "'");
  ASSERT_FALSE(order_url.empty());
  c.node(holder).Kill();
  c.relay().Release();

  const std::string cert_id = c.WaitForCertificate(id, seconds(90));
  ASSERT_FALSE(cert_id.empty());
  EXPECT_TRUE(c.ServedByEveryNode("crash.customer.test", c.SerialOf(cert_id)));
  EXPECT_EQ(CountCertificates(c.Api(2)), 1u);
  // One order, made by the killed node and resumed by the other.
  EXPECT_EQ(Occurrences(c.Log(holder), " ordered " + order_url), 1u) << c.Logs();
  EXPECT_EQ(Occurrences(c.Log(other), " ordered https://"), 0u) << c.Logs();
  EXPECT_GE(Occurrences(c.Log(other), " resumes order " + order_url), 1u) << c.Logs();
  EXPECT_EQ(c.Sql("SELECT count(*) FROM acme_accounts"), "1") << "both nodes used one account";
  RunResult verify = c.node(2).Admin({"keys", "verify", "--store", c.store_url()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find(", 0 failed"), std::string::npos) << verify.out;
}

// Paused (SIGSTOP) past its lease: the other node finishes the order; the
// paused node, resumed, finds the job no longer its own and writes nothing.
TEST(ClusterAcmeTest, ANodePausedPastItsLeaseCannotWriteTheJobOnceResumed) {
  AcmeCluster c(Layout{.orders = {true, true, false}, .http_node = 2, .dns_node = 2});
  c.relay().Hold();
  json::value d = c.CreateManaged("paused.customer.test", 2);
  const std::string id = JsonString(d, "id");
  ASSERT_TRUE(Eventually([&] { return c.relay().waiting() > 0; }, seconds(30))) << c.Logs();
  const int holder = c.LeaseHolder(id);
  ASSERT_TRUE(holder == 0 || holder == 1) << holder << c.Logs();
  const int other = 1 - holder;
  c.node(holder).process().Signal(SIGSTOP);
  c.relay().Release();

  const std::string cert_id = c.WaitForCertificate(id, seconds(90));
  ASSERT_FALSE(cert_id.empty());
  EXPECT_GE(Occurrences(c.Log(other), " resumes order "), 1u) << c.Logs();

  c.node(holder).process().Signal(SIGCONT);
  // Its attempt wakes, tries to renew the lease it lost, and stops there.
  EXPECT_TRUE(Eventually(
      [&] { return c.Log(holder).find("taken over") != std::string::npos; }, seconds(30)))
      << c.Logs();
  EXPECT_EQ(c.CertificateOf(id), cert_id);
  EXPECT_EQ(CountCertificates(c.Api(2)), 1u);
  EXPECT_TRUE(c.ServedByEveryNode("paused.customer.test", c.SerialOf(cert_id)));
}

}  // namespace
}  // namespace certgate::testing
