// The resource commands of the CLI against a running server.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "pki/testing/cert_factory.h"
#include "support/certgate_server.h"

namespace certgate::testing {
namespace {

namespace json = boost::json;
using pki::testing::CertSpec;
using pki::testing::MakeChain;
using pki::testing::TestKeyType;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = CertgateServer::Start();
    ASSERT_NE(server_, nullptr);
    env_ = {{"CERTGATE_API_URL", server_->api_url()}, {"CERTGATE_API_KEY", server_->api_key()}};
  }
  RunResult Certs(std::vector<std::string> args, std::optional<std::string> stdin_text = {}) {
    std::vector<std::string> argv = {CertgateBinary(), "certs"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, env_, std::move(stdin_text));
  }
  std::unique_ptr<CertgateServer> server_;
  std::map<std::string, std::string> env_;
  TempDir dir_;
};

TEST_F(CliTest, CreateListGetUpdateDelete) {
  CertSpec spec;
  spec.common_name = "cli.example.com";
  spec.dns_names = {"cli.example.com"};
  auto chain = MakeChain(TestKeyType::kEcP256, spec);
  WriteFile(dir_.path() / "chain.pem", chain.BundlePem());
  const std::string key = pki::testing::KeyPemPkcs8(chain.leaf_key.get());

  // The key comes from stdin.
  RunResult created = Certs({"create", "--cert", (dir_.path() / "chain.pem").string(), "--key",
                             "-", "--description", "from the cli"},
                            key);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  json::value c = json::parse(created.out);
  const std::string id(c.at("id").as_string());
  EXPECT_EQ(c.at("subject_common_name"), "cli.example.com");
  EXPECT_EQ(c.at("description"), "from the cli");
  EXPECT_EQ(created.out.find("PRIVATE KEY"), std::string::npos);

  RunResult list = Certs({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("ID"), std::string::npos);
  EXPECT_NE(list.out.find(id), std::string::npos);
  EXPECT_NE(list.out.find("cli.example.com"), std::string::npos);

  RunResult list_json = Certs({"list", "--json", "--limit", "1"});
  ASSERT_EQ(list_json.exit_code, 0) << list_json.err;
  EXPECT_EQ(json::parse(list_json.out).at("tls_certificates").as_array().size(), 1u);

  RunResult got = Certs({"get", id});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(json::parse(got.out), c);

  RunResult updated = Certs({"update", id, "--metadata", "m1"});
  ASSERT_EQ(updated.exit_code, 0) << updated.err;
  EXPECT_EQ(json::parse(updated.out).at("metadata"), "m1");
  EXPECT_EQ(json::parse(updated.out).at("description"), "from the cli");

  RunResult deleted = Certs({"delete", id});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(deleted.out, "deleted " + id + "\n");

  RunResult gone = Certs({"get", id});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("no TLS certificate with id"), std::string::npos) << gone.err;
  EXPECT_NE(gone.err.find("ERR_CERTGATE_101"), std::string::npos) << gone.err;

  RunResult empty = Certs({"list"});
  EXPECT_NE(empty.out.find("no certificates"), std::string::npos) << empty.out;
}

// A description is anyone's text (another user of the account, a script):
// list, get and create must not pass its terminal escape sequences through.
TEST_F(CliTest, EscapesControlCharactersInWhatItPrints) {
  CertSpec spec;
  spec.common_name = "esc.example.com";
  spec.dns_names = {"esc.example.com"};
  auto chain = MakeChain(TestKeyType::kEcP256, spec);
  WriteFile(dir_.path() / "chain.pem", chain.BundlePem());
  WriteFile(dir_.path() / "key.pem", pki::testing::KeyPemPkcs8(chain.leaf_key.get()));
  // ESC sequences, a bell, DEL, the 8-bit CSI (U+009B), and text that stays.
  const std::string description = "\x1b[31mred\x1b[0m\a\x7f \xc2\x9b" "2J café 証明書";
  RunResult created = Certs({"create", "--cert", (dir_.path() / "chain.pem").string(), "--key",
                             (dir_.path() / "key.pem").string(), "--description", description});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id(json::parse(created.out).at("id").as_string());

  auto expect_no_controls = [](const std::string& text, const char* what) {
    for (unsigned char c : text) {
      if (c == '\n') continue;
      EXPECT_FALSE(c < 0x20 || c == 0x7f) << what << " prints byte " << int{c} << ":\n" << text;
    }
    EXPECT_EQ(text.find("\xc2\x9b"), std::string::npos) << what << " prints U+009B";
  };

  RunResult list = Certs({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  expect_no_controls(list.out, "list");
  EXPECT_NE(list.out.find(R"(\x1b[31mred\x1b[0m\x07\x7f \u009b2J café 証明書)"), std::string::npos)
      << list.out;

  for (const RunResult& shown : {Certs({"get", id}), created}) {
    ASSERT_EQ(shown.exit_code, 0) << shown.err;
    expect_no_controls(shown.out, "get");
    EXPECT_NE(shown.out.find(R"("\u001b[31mred\u001b[0m\u0007\u007f \u009b2J café 証明書")"),
              std::string::npos)
        << shown.out;
    // Still JSON, and it still says exactly what the API holds.
    EXPECT_EQ(json::parse(shown.out).at("description").as_string(), description);
  }

  // An error message quoting what was sent: the id, decoded by the server.
  RunResult missing = Certs({"get", "cert_\x1b[2Jgone"});
  EXPECT_EQ(missing.exit_code, 1);
  expect_no_controls(missing.err, "an error");
  EXPECT_NE(missing.err.find(R"(cert_\x1b[2Jgone)"), std::string::npos) << missing.err;
}

TEST_F(CliTest, ShowsTheApisMessageForABadUpload) {
  CertSpec spec;
  spec.common_name = "mismatch.example.com";
  auto chain = MakeChain(TestKeyType::kEcP256, spec);
  WriteFile(dir_.path() / "chain.pem", chain.BundlePem());
  WriteFile(dir_.path() / "other.key",
            pki::testing::KeyPemPkcs8(pki::testing::MakeKey(TestKeyType::kEcP256).get()));
  RunResult r = Certs({"create", "--cert", (dir_.path() / "chain.pem").string(), "--key",
                       (dir_.path() / "other.key").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("does not match"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ERR_CERTGATE_258"), std::string::npos) << r.err;
}

TEST_F(CliTest, ExplainsMissingInputs) {
  RunResult missing_file = Certs({"create", "--cert", "/nonexistent.pem", "--key", "/x.key"});
  EXPECT_EQ(missing_file.exit_code, 1);
  EXPECT_NE(missing_file.err.find("--cert /nonexistent.pem: cannot read the file"),
            std::string::npos)
      << missing_file.err;

  RunResult both_stdin = Certs({"create", "--cert", "-", "--key", "-"});
  EXPECT_EQ(both_stdin.exit_code, 1);
  EXPECT_NE(both_stdin.err.find("cannot both read stdin"), std::string::npos);

  env_["CERTGATE_API_KEY"] = "";
  RunResult no_key = Certs({"list"});
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_NE(no_key.err.find("CERTGATE_API_KEY"), std::string::npos) << no_key.err;

  RunResult no_server = RunCommand({CertgateBinary(), "certs", "list", "--api-url", "http://127.0.0.1:1",
                             "--api-key", "cg_x"});
  EXPECT_EQ(no_server.exit_code, 1);
  EXPECT_NE(no_server.err.find("cannot connect to the API at http://127.0.0.1:1"),
            std::string::npos)
      << no_server.err;
}

TEST_F(CliTest, AdminCreatesAccountsAndKeys) {
  RunResult account = server_->Admin({"accounts", "create", "--name", "acme", "--plan", "free"});
  ASSERT_EQ(account.exit_code, 0) << account.err;
  ASSERT_EQ(account.out.rfind("acct_", 0), 0u);
  std::string id = account.out.substr(0, account.out.size() - 1);
  RunResult key = server_->Admin({"api-keys", "create", "--account", id});
  ASSERT_EQ(key.exit_code, 0) << key.err;
  std::string token = key.out.substr(0, key.out.size() - 1);
  env_["CERTGATE_API_KEY"] = token;
  RunResult list = Certs({"list", "--json"});
  EXPECT_EQ(list.exit_code, 0) << list.err;

  RunResult bad_plan = server_->Admin({"accounts", "create", "--name", "x", "--plan", "gold"});
  EXPECT_EQ(bad_plan.exit_code, 2);
  EXPECT_NE(bad_plan.err.find("gold"), std::string::npos) << bad_plan.err;
  RunResult no_account =
      server_->Admin({"api-keys", "create", "--account", "acct_2OEmZ6CE8wZrZW8lRQVjNoFTafd"});
  EXPECT_EQ(no_account.exit_code, 1);
  EXPECT_NE(no_account.err.find("no account with id"), std::string::npos) << no_account.err;
}

TEST_F(CliTest, DomainsAndEndpoints) {
  auto run = [&](std::vector<std::string> args, std::optional<std::string> in = {}) {
    std::vector<std::string> argv = {CertgateBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, env_, std::move(in));
  };
  RunResult created = run({"domains", "create", "*.cli.example.com", "--managed", "--key-type",
                           "rsa"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  json::value d = json::parse(created.out);
  EXPECT_EQ(d.at("certificate_management_policy").at("private_key_type"), "rsa");
  EXPECT_NE(created.err.find("create this DNS record: *.cli.example.com CNAME "), std::string::npos)
      << created.err;
  EXPECT_NE(created.err.find("and this one: _acme-challenge.cli.example.com CNAME "),
            std::string::npos)
      << created.err;

  RunResult conflicting = run({"domains", "create", "x.example.com", "--managed",
                               "--certificate-id", "cert_x"});
  EXPECT_EQ(conflicting.exit_code, 2) << "the flags exclude each other";

  WriteFile(dir_.path() / "policy.yaml",
            "on_tcp_connect:\n  - actions:\n      - type: terminate-tls\n        config:\n"
            "          min_version: \"1.3\"\n");
  RunResult endpoint = run({"endpoints", "create", "https://api.cli.example.com",
                            "--upstream-url", "http://127.0.0.1:8080", "--traffic-policy",
                            (dir_.path() / "policy.yaml").string()});
  ASSERT_EQ(endpoint.exit_code, 0) << endpoint.err;
  json::value ep = json::parse(endpoint.out);
  const std::string ep_id(ep.at("id").as_string());
  EXPECT_EQ(ep.at("upstream_url"), "http://127.0.0.1:8080");
  EXPECT_EQ(ep.at("type"), "cloud");
  EXPECT_EQ(ep.at("traffic_policy"),
            "on_tcp_connect:\n  - actions:\n      - type: terminate-tls\n        config:\n"
            "          min_version: \"1.3\"\n");
  // --upstream is the old name of --upstream-url.
  RunResult updated = run({"endpoints", "update", ep_id, "--upstream", "http://127.0.0.1:8081"});
  ASSERT_EQ(updated.exit_code, 0) << updated.err;
  EXPECT_EQ(json::parse(updated.out).at("upstream_url"), "http://127.0.0.1:8081");
  RunResult listed = run({"endpoints", "list"});
  EXPECT_NE(listed.out.find("https://api.cli.example.com"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("http://127.0.0.1:8081"), std::string::npos) << listed.out;

  // The domain is in use: deleting it names the endpoint.
  const std::string rd_id(d.at("id").as_string());
  RunResult blocked = run({"domains", "delete", rd_id});
  EXPECT_EQ(blocked.exit_code, 1);
  EXPECT_NE(blocked.err.find("used by the endpoint https://api.cli.example.com"),
            std::string::npos)
      << blocked.err;
  EXPECT_EQ(run({"endpoints", "delete", ep_id}).exit_code, 0);
  RunResult unmanaged = run({"domains", "unmanage", rd_id});
  EXPECT_EQ(unmanaged.exit_code, 0) << unmanaged.err;
  RunResult domains = run({"domains", "list"});
  EXPECT_NE(domains.out.find("*.cli.example.com"), std::string::npos) << domains.out;
  EXPECT_EQ(run({"domains", "delete", rd_id}).exit_code, 0);
  EXPECT_NE(run({"domains", "list"}).out.find("no domains"), std::string::npos);
}

TEST_F(CliTest, AdminImportsDomainsInBatchesAndAgainSkipsWhatItHas) {
  RunResult account = server_->Admin({"accounts", "create", "--name", "bulk", "--plan", "payg"});
  ASSERT_EQ(account.exit_code, 0) << account.err;
  const std::string id = account.out.substr(0, account.out.find('\n'));
  RunResult key = server_->Admin({"api-keys", "create", "--account", id});
  ASSERT_EQ(key.exit_code, 0) << key.err;
  const client::ApiClient api = server_->Client(key.out.substr(0, key.out.find('\n')));

  std::string list = "# moved from the old gateway\n\n";
  for (int i = 0; i < 2500; ++i) list += "Shop" + std::to_string(i) + ".Bulk.example  \r\n";
  list += "*.wild.bulk.example\nmine.certgate.localhost\nshop7.bulk.example\n";
  const auto file = dir_.path() / "names.txt";
  WriteFile(file, list);
  RunResult imported = server_->Admin({"domains", "import", "--account", id, "--batch", "1000",
                                       file.string()});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_EQ(imported.out, "imported 2503 names for " + id + ": 2502 new, 1 held already\n");
  EXPECT_NE(imported.err.find("1000 of 2503 names done"), std::string::npos) << imported.err;
  EXPECT_NE(imported.err.find("2503 of 2503 names done"), std::string::npos) << imported.err;

  // What the API would have made: automatic certificates and a cname_target
  // outside the service's domain, DNS-01's target for the wildcard, neither
  // under it.
  auto get = [&](const std::string& name) {
    auto r = api.Send(boost::beast::http::verb::get,
                      "/reserved_domains?filter=obj.domain%20%3D%3D%20%22" + name + "%22");
    EXPECT_TRUE(r.ok()) << r.error().message;
    json::array found = json::parse(r->body).at("reserved_domains").as_array();
    EXPECT_EQ(found.size(), 1u) << name;
    return found.empty() ? json::value() : found[0];
  };
  json::value shop = get("shop2499.bulk.example");
  EXPECT_TRUE(shop.at("cname_target").as_string().ends_with(".cname.certgate.localhost"));
  EXPECT_EQ(shop.at("certificate_management_policy").at("authority"), "letsencrypt");
  EXPECT_TRUE(get("*.wild.bulk.example").at("acme_challenge_cname_target").is_string());
  json::value mine = get("mine.certgate.localhost");
  EXPECT_TRUE(mine.at("cname_target").is_null());
  EXPECT_TRUE(mine.at("certificate_management_policy").is_null());

  RunResult again = server_->Admin({"domains", "import", "--account", id, file.string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "imported 2503 names for " + id + ": 0 new, 2503 held already\n");

  // A bad line stops it before anything is written, naming the line.
  WriteFile(file, "fresh1.bulk.example\nnot a name\n");
  RunResult bad = server_->Admin({"domains", "import", "--account", id, file.string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("line 2:"), std::string::npos) << bad.err;
  // A name another account owns refuses its batch; the batch before stays.
  const std::string other = server_->NewAccountKey("payg");
  ASSERT_EQ(server_->Client(other)
                .Send(boost::beast::http::verb::post, "/reserved_domains",
                      R"({"domain": "taken.example"})")
                ->status,
            201);
  WriteFile(file, "fresh1.bulk.example\nfresh2.bulk.example\ntaken.example\n");
  RunResult refused =
      server_->Admin({"domains", "import", "--account", id, "--batch", "2", file.string()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("the batch from line 3 was refused"), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("taken.example"), std::string::npos) << refused.err;
  get("fresh2.bulk.example");
  RunResult no_account = server_->Admin(
      {"domains", "import", "--account", "acct_2OEmZ6CE8wZrZW8lRQVjNoFTafd", file.string()});
  EXPECT_EQ(no_account.exit_code, 1);
  EXPECT_NE(no_account.err.find("there is no account"), std::string::npos) << no_account.err;
}

}  // namespace
}  // namespace certgate::testing
