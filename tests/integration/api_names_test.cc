// Names belong to one account (issue 14, item 7), over real HTTP: each case
// the outside probe found refused with ngrok's code where ngrok has one, 32
// concurrent conflicting creates from two accounts, the edge still serving
// the holder's certificate after another account's attempt, and
// `certgate admin check` reporting overlaps written around certgate.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "pki/testing/cert_factory.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"
#include "support/edge_peers.h"

namespace certgate::testing {
namespace {

namespace json = boost::json;
using pki::testing::CertSpec;
using pki::testing::KeyPemPkcs8;
using pki::testing::MakeChain;
using pki::testing::TestChain;
using pki::testing::TestKeyType;

// Like IsError, for any error_code: "ERR_NGROK_414" or "ERR_CERTGATE_514".
// The message may name the conflicting domain, never an account.
::testing::AssertionResult IsRefusal(const ApiResult& r, std::string_view error_code,
                                     std::string_view msg_part) {
  auto fail = [&](std::string why) {
    return ::testing::AssertionFailure() << why << "; response " << r.status << ": " << r.raw;
  };
  if (r.status != 400) return fail("status is not 400");
  const auto* o = r.json.if_object();
  if (o == nullptr) return fail("body is not a JSON object");
  const auto* ec = o->if_contains("error_code");
  if (ec == nullptr || !ec->is_string() || ec->get_string() != error_code) {
    return fail("error_code is not " + std::string(error_code));
  }
  const auto* sc = o->if_contains("status_code");
  if (sc == nullptr || !sc->is_int64() || sc->get_int64() != 400) {
    return fail("status_code is not 400");
  }
  const auto* msg = o->if_contains("msg");
  if (msg == nullptr || !msg->is_string()) return fail("msg is not a string");
  const std::string_view text = msg->get_string();
  if (text.find(msg_part) == std::string_view::npos) {
    return fail("msg does not contain '" + std::string(msg_part) + "'");
  }
  if (text.find("acct_") != std::string_view::npos) return fail("msg names an account");
  const auto* details = o->if_contains("details");
  if (details == nullptr || !details->is_object() ||
      !details->get_object().contains("operation_id")) {
    return fail("details.operation_id is missing");
  }
  return ::testing::AssertionSuccess();
}

TestChain ChainFor(std::vector<std::string> names, std::vector<uint8_t> serial) {
  CertSpec spec;
  spec.common_name = names.front();
  spec.dns_names = std::move(names);
  spec.serial = std::move(serial);
  return MakeChain(TestKeyType::kEcP256, spec, /*reuse_leaf_key=*/false);
}

class NamesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = CertgateServer::Start();
    ASSERT_NE(server_, nullptr);
    alice_ = std::make_unique<client::ApiClient>(server_->Client());
    bob_ = std::make_unique<client::ApiClient>(server_->Client(server_->NewAccountKey("payg")));
  }
  std::string Upload(client::ApiClient& client, const TestChain& chain) {
    ApiResult r = Call(client, verb::post, "/tls_certificates",
                       UploadBody(chain.BundlePem(), KeyPemPkcs8(chain.leaf_key.get())));
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.status == 201 ? std::string(r.json.at("id").as_string()) : "";
  }
  ApiResult Reserve(client::ApiClient& client, const std::string& domain,
                    const std::string& cert_id = "") {
    json::object body{{"domain", domain}};
    if (!cert_id.empty()) body["certificate_id"] = cert_id;
    return Call(client, verb::post, "/reserved_domains", body);
  }
  ApiResult AddEndpoint(client::ApiClient& client, const std::string& host,
                        const std::string& upstream) {
    return Call(client, verb::post, "/endpoints",
                json::object{{"url", "https://" + host}, {"upstream", upstream}});
  }
  std::vector<std::string> Domains(client::ApiClient& client) {
    ApiResult r = Call(client, verb::get, "/reserved_domains");
    std::vector<std::string> out;
    for (const auto& d : r.json.at("reserved_domains").as_array()) {
      out.emplace_back(d.at("domain").as_string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // The serial the edge presents for sni, once it is `serial`.
  void WaitForSerial(const std::string& sni, const std::string& serial) {
    for (int i = 0; i < 500; ++i) {
      std::string error;
      auto c = TlsClient::Connect(server_->https_port(), {.sni = sni}, &error);
      if (c && c->PeerSerial() == serial) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << sni << " never served serial " << serial;
  }

  std::unique_ptr<CertgateServer> server_;
  std::unique_ptr<client::ApiClient> alice_;
  std::unique_ptr<client::ApiClient> bob_;
};

TEST_F(NamesTest, EachCaseOfTheProbeIsRefusedWithNgroksCode) {
  // Account A holds *.wa.example.com with an endpoint on y.wa.example.com,
  // and an exact name elsewhere.
  const std::string a_cert = Upload(*alice_, ChainFor({"*.wa.example.com"}, {0x0a, 0x01}));
  ASSERT_EQ(Reserve(*alice_, "*.wa.example.com", a_cert).status, 201);
  ASSERT_EQ(AddEndpoint(*alice_, "y.wa.example.com", "http://127.0.0.1:9").status, 201);
  ASSERT_EQ(Reserve(*alice_, "app.example.org").status, 201);

  // B reserves y.wa.example.com with its own certificate.
  const std::string b_cert = Upload(*bob_, ChainFor({"y.wa.example.com"}, {0x0b, 0x02}));
  EXPECT_TRUE(IsRefusal(Reserve(*bob_, "y.wa.example.com", b_cert), "ERR_NGROK_414",
                        "y.wa.example.com lies under the wildcard *.wa.example.com, which "
                        "another account has reserved"));
  // B reserves z.wa.example.com, to point an endpoint at it.
  EXPECT_TRUE(IsRefusal(Reserve(*bob_, "z.wa.example.com"), "ERR_NGROK_414",
                        "z.wa.example.com lies under the wildcard *.wa.example.com"));
  EXPECT_TRUE(IsError(AddEndpoint(*bob_, "z.wa.example.com", "http://127.0.0.1:9"), 400, 552,
                      "not one of this account's reserved domains"));
  // Deeper than one label is still under the wildcard (as ngrok routes).
  EXPECT_TRUE(IsRefusal(Reserve(*bob_, "a.b.wa.example.com"), "ERR_NGROK_414", "lies under"));
  // B reserves a wildcard over A's names.
  EXPECT_TRUE(IsRefusal(Reserve(*bob_, "*.example.com"), "ERR_NGROK_417",
                        "the wildcard *.example.com would cover *.wa.example.com, which another "
                        "account has reserved"));
  EXPECT_TRUE(
      IsRefusal(Reserve(*bob_, "*.example.org"), "ERR_NGROK_417", "would cover app.example.org"));
  // The same name, and names under A's exact name.
  EXPECT_TRUE(IsRefusal(Reserve(*bob_, "*.wa.example.com"), "ERR_NGROK_414",
                        "*.wa.example.com is already reserved by another account"));
  EXPECT_TRUE(IsRefusal(Reserve(*bob_, "APP.example.org."), "ERR_NGROK_414",
                        "app.example.org is already reserved by another account"));
  EXPECT_TRUE(IsRefusal(Reserve(*bob_, "x.app.example.org"), "ERR_NGROK_414",
                        "x.app.example.org lies under app.example.org"));
  EXPECT_TRUE(IsRefusal(Reserve(*bob_, "*.app.example.org"), "ERR_NGROK_414",
                        "*.app.example.org lies under app.example.org"));
  // An exact name above A's: ngrok has no code for it.
  EXPECT_TRUE(IsRefusal(Reserve(*bob_, "example.org"), "ERR_CERTGATE_514",
                        "example.org lies above app.example.org"));
  // A's own repeat.
  EXPECT_TRUE(IsRefusal(Reserve(*alice_, "*.wa.example.com"), "ERR_NGROK_413",
                        "*.wa.example.com is already reserved by this account"));
  // Nothing of B's was written; neighbours by characters, not labels, are free.
  EXPECT_TRUE(Domains(*bob_).empty());
  ASSERT_EQ(Reserve(*bob_, "wa-b.example.com").status, 201);
  ASSERT_EQ(Reserve(*bob_, "www.example.org").status, 201);
  EXPECT_EQ(Domains(*bob_), (std::vector<std::string>{"wa-b.example.com", "www.example.org"}));
  EXPECT_EQ(Domains(*alice_), (std::vector<std::string>{"*.wa.example.com", "app.example.org"}));
  // And A may nest its own names freely.
  EXPECT_EQ(Reserve(*alice_, "y.wa.example.com").status, 201);

  // The service's own domain belongs to every account: nobody reserves it.
  EXPECT_TRUE(IsError(Reserve(*bob_, "*.certgate.localhost"), 400, 502, "service's own domain"));
  EXPECT_TRUE(IsError(Reserve(*bob_, "certgate.localhost"), 400, 502, "service's own domain"));
  ASSERT_EQ(Reserve(*bob_, "bobs.certgate.localhost").status, 201);
  EXPECT_TRUE(
      IsRefusal(Reserve(*alice_, "x.bobs.certgate.localhost"), "ERR_NGROK_414", "lies under"));
}

TEST_F(NamesTest, TheEdgeKeepsServingTheHoldersCertificate) {
  TestUpstream bobs_upstream;
  const std::string a_cert = Upload(*alice_, ChainFor({"*.wa.example.com"}, {0x0a, 0x01}));
  ASSERT_EQ(Reserve(*alice_, "*.wa.example.com", a_cert).status, 201);
  WaitForSerial("y.wa.example.com", "0a01");

  // B's attempts: its own certificate for a name under A's wildcard, a
  // wildcard over it, and an endpoint to its own upstream.
  const std::string b_exact = Upload(*bob_, ChainFor({"y.wa.example.com"}, {0x0b, 0x02}));
  EXPECT_EQ(Reserve(*bob_, "y.wa.example.com", b_exact).status, 400);
  const std::string b_wild = Upload(*bob_, ChainFor({"*.example.com"}, {0x0b, 0x03}));
  EXPECT_EQ(Reserve(*bob_, "*.example.com", b_wild).status, 400);
  EXPECT_EQ(Reserve(*bob_, "z.wa.example.com").status, 400);
  EXPECT_EQ(AddEndpoint(*bob_, "z.wa.example.com", bobs_upstream.url()).status, 400);

  // A later change of A's reaching the edge means B's attempts would have
  // too (the edge publishes changes in order).
  const std::string later = Upload(*alice_, ChainFor({"later.example.net"}, {0x0c, 0x04}));
  ASSERT_EQ(Reserve(*alice_, "later.example.net", later).status, 201);
  WaitForSerial("later.example.net", "0c04");

  EXPECT_EQ(OpensslServedSerial(server_->https_port(), "y.wa.example.com"), "0a01");
  EXPECT_EQ(OpensslServedSerial(server_->https_port(), "z.wa.example.com"), "0a01");
  std::string error;
  auto tls = TlsClient::Connect(server_->https_port(), {.sni = "z.wa.example.com"}, &error);
  ASSERT_NE(tls, nullptr) << error;
  EXPECT_EQ(tls->PeerSerial(), "0a01");
  EXPECT_NE(tls->Http("GET", "/echo", "z.wa.example.com").status, 200);
  EXPECT_EQ(bobs_upstream.connections(), 0) << "B's upstream never sees A's traffic";
}

TEST_F(NamesTest, ConcurrentConflictingCreatesLeaveEachNameWithOneAccount) {
  // 48 contested groups, each a pair of names of A and B that own a name in
  // common (four kinds, each side in each role), plus a name of its own per
  // thread; 32 threads, 16 per account, each trying its side of three
  // groups, all released at once.
  constexpr int kThreads = 32;
  constexpr int kGroups = 48;
  auto side = [](int group, bool a) -> std::string {
    const std::string g = "g" + std::to_string(group) + ".example.com";
    std::pair<std::string, std::string> pair;
    switch (group % 4) {
      case 0:
        pair = {g, g};
        break;
      case 1:
        pair = {"*." + g, "x." + g};
        break;
      case 2:
        pair = {g, "*." + g};
        break;
      default:
        pair = {"y." + g, g};
        break;
    }
    if (group % 8 >= 4) std::swap(pair.first, pair.second);
    return a ? pair.first : pair.second;
  };
  const std::string bob_key = server_->NewAccountKey("payg");
  std::mutex mu;
  std::map<std::string, ApiResult> results;  // "<group>:a" / "<group>:b" / "own<t>"
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const bool a = t % 2 == 0;
      client::ApiClient client = a ? server_->Client() : server_->Client(bob_key);
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int k = 0; k < 3; ++k) {
        const int group = (t / 2) * 3 + (a ? k : 2 - k);
        ApiResult r = Reserve(client, side(group, a));
        std::lock_guard lock(mu);
        results[std::to_string(group) + (a ? ":a" : ":b")] = std::move(r);
      }
      ApiResult own = Reserve(client, "own" + std::to_string(t) + ".example.net");
      std::lock_guard lock(mu);
      results["own" + std::to_string(t)] = std::move(own);
    });
  }
  for (auto& th : threads) th.join();

  client::ApiClient bob = server_->Client(bob_key);
  std::vector<std::string> a_names = Domains(*alice_);
  std::vector<std::string> b_names = Domains(bob);
  auto holds = [](const std::vector<std::string>& names, const std::string& name) {
    return std::binary_search(names.begin(), names.end(), name);
  };
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(results["own" + std::to_string(t)].status, 201)
        << results["own" + std::to_string(t)].raw;
  }
  for (int g = 0; g < kGroups; ++g) {
    const ApiResult& a = results[std::to_string(g) + ":a"];
    const ApiResult& b = results[std::to_string(g) + ":b"];
    ASSERT_TRUE((a.status == 201) != (b.status == 201))
        << "group " << g << ": exactly one account takes it; " << a.raw << " / " << b.raw;
    const ApiResult& lost = a.status == 201 ? b : a;
    const std::string code(lost.json.at("error_code").as_string());
    EXPECT_TRUE(code == "ERR_NGROK_414" || code == "ERR_NGROK_417" || code == "ERR_CERTGATE_514")
        << lost.raw;
    EXPECT_TRUE(IsRefusal(lost, code, "another account")) << "group " << g;
    EXPECT_EQ(holds(a_names, side(g, true)), a.status == 201) << g;
    EXPECT_EQ(holds(b_names, side(g, false)), b.status == 201) << g;
  }
  EXPECT_EQ(a_names.size() + b_names.size(), static_cast<size_t>(kGroups + kThreads));

  // And the store agrees: nothing overlaps.
  RunResult check = server_->Admin({"check"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("every name belongs to one account"), std::string::npos) << check.out;
}

// Runs SQL on the server's database directly, around certgate's checks, as
// rows from before the rule existed would be.
void WriteAroundCertgate(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* conn = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_busy_timeout(conn, 5000);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(conn, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
      << (err != nullptr ? err : "") << "\n"
      << sql;
  sqlite3_free(err);
  sqlite3_close(conn);
}

TEST_F(NamesTest, AdminCheckReportsOverlapsWrittenAroundCertgate) {
  ASSERT_EQ(Reserve(*alice_, "*.wa.example.com").status, 201);
  ASSERT_EQ(Reserve(*bob_, "bob.example.net").status, 201);
  RunResult clean = server_->Admin({"check"});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_EQ(clean.out,
            "checked 2 domains and 0 endpoints: every name belongs to one account\n");

  RunResult created = server_->Admin({"accounts", "create", "--name", "carol", "--plan", "payg"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string carol = created.out.substr(0, created.out.find('\n'));
  ASSERT_NO_FATAL_FAILURE(WriteAroundCertgate(
      server_->data_dir() / "certgate.db",
      "INSERT INTO reserved_domains (id, account_id, created_at, description, metadata, domain,"
      " name_key) VALUES ('rd_2OEmZ6CE8wZrZW8lRQVjNoFTafd', '" + carol + "', 1700000000, '', '',"
      " 'y.wa.example.com', 'com.example.wa.y.')"));
  RunResult found = server_->Admin({"check"});
  EXPECT_EQ(found.exit_code, 1) << found.out << found.err;
  EXPECT_NE(found.out.find("overlap: *.wa.example.com (rd_"), std::string::npos) << found.out;
  EXPECT_NE(found.out.find("owns names of y.wa.example.com (rd_2OEmZ6CE8wZrZW8lRQVjNoFTafd, "
                           "account " + carol + ")"),
            std::string::npos)
      << found.out;
  EXPECT_NE(found.out.find("checked 3 domains and 0 endpoints: 1 overlaps, 0 unindexed domains"),
            std::string::npos)
      << found.out;
}

}  // namespace
}  // namespace certgate::testing
