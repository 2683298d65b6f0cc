// `certgate serve` as an operator meets it: first start, restart, flags,
// config file, signals.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/api_helpers.h"
#include "support/certgate_server.h"

namespace certgate::testing {
namespace {

mode_t ModeOf(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

TEST(ServeTest, FirstStartCreatesStateAndPrintsTheKeyOnce) {
  TempDir dir;
  const auto data = dir.path() / "data";
  std::string key;
  {
    auto server = CertgateServer::Start(ServerOptions::InDir(data));
    ASSERT_NE(server, nullptr);
    key = server->api_key();
    EXPECT_EQ(key.rfind("cg_", 0), 0u) << server->process().Stdout();
    EXPECT_NE(server->process().Stdout().find("shown only this once"), std::string::npos);
    EXPECT_EQ(ModeOf(data), 0700u);
    EXPECT_EQ(ModeOf(data / "master.key"), 0600u);
    EXPECT_EQ(ModeOf(data / "certgate.db"), 0600u);
    EXPECT_EQ(Call(server->Client(), verb::get, "/tls_certificates").status, 200);
    EXPECT_EQ(server->Stop(), 0);
  }
  // A restart reuses everything and prints no new key.
  auto again = CertgateServer::Start(ServerOptions::InDir(data));
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->api_key(), "");
  EXPECT_EQ(again->process().Stdout().find("cg_"), std::string::npos);
  EXPECT_EQ(Call(again->Client(key), verb::get, "/tls_certificates").status, 200);
  // The default certificate's key is sealed in the store and opens.
  RunResult verify = again->Admin({"keys", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_EQ(verify.out, "1 keys verified, 0 failed\n");
}

TEST(ServeTest, PortZeroPrintsTheChosenAddress) {
  auto server = CertgateServer::Start();
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->api_url().rfind("http://127.0.0.1:", 0), 0u);
  EXPECT_NE(server->api_url(), "http://127.0.0.1:0");
  EXPECT_NE(server->process().Stdout().find("dashboard: " + server->api_url() + "/"),
            std::string::npos);
}

TEST(ServeTest, SigtermAndSigintStopCleanly) {
  for (int signo : {SIGTERM, SIGINT}) {
    auto server = CertgateServer::Start();
    ASSERT_NE(server, nullptr);
    EXPECT_EQ(Call(server->Client(), verb::get, "/tls_certificates").status, 200);
    server->process().Signal(signo);
    EXPECT_EQ(server->process().Wait(std::chrono::seconds(15)), 0) << "signal " << signo;
    EXPECT_NE(ReadFile(server->stderr_path()).find("shutting down"), std::string::npos);
  }
}

TEST(ServeTest, ReadsAYamlConfigFile) {
  TempDir dir;
  WriteFile(dir.path() / "certgate.yaml",
            "api-listen: 127.0.0.1:0\n"
            "https-listen: 127.0.0.1:0\n"
            "http-listen: 127.0.0.1:0\n"
            "base_domain: edge.example.net\n"
            "data-dir: " + (dir.path() / "data").string() + "\n");
  Process p({CertgateBinary(), "serve", "--config", (dir.path() / "certgate.yaml").string()}, {},
            dir.path() / "stderr");
  ASSERT_TRUE(p.WaitForLine("certgate ready", std::chrono::seconds(30)))
      << ReadFile(dir.path() / "stderr");
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "data" / "certgate.db"));
  EXPECT_NE(ReadFile(dir.path() / "stderr").find("edge.example.net"), std::string::npos);
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(std::chrono::seconds(15)), 0);
}

TEST(ServeTest, RefusesBadConfigurationWithClearMessages) {
  TempDir dir;
  const std::string data = (dir.path() / "data").string();
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string message;
  };
  WriteFile(dir.path() / "unknown.yaml", "api-listen: 127.0.0.1:0\nno-such-flag: 1\n");
  WriteFile(dir.path() / "broken.yaml", "api-listen: [\n");
  for (const Case& c : std::vector<Case>{
           {{"--api-listen", "nonsense"}, 1, "--api-listen 'nonsense' is not a valid address"},
           {{"--api-listen", "127.0.0.1:99999"}, 1, "port must be a number from 0 to 65535"},
           {{"--no-such-flag"}, 2, "no-such-flag"},
           {{"--config", (dir.path() / "missing.yaml").string()}, 2, "missing.yaml"},
           {{"--config", (dir.path() / "unknown.yaml").string()}, 2, "no-such-flag"},
           {{"--config", (dir.path() / "broken.yaml").string()}, 2, "YAML"},
           {{"--store", "mysql://x"}, 1, "--store"},
       }) {
    std::vector<std::string> argv = {CertgateBinary(), "serve", "--data-dir", data};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    RunResult r = RunCommand(argv);
    EXPECT_NE(r.exit_code, 0) << c.args[0];
    if (c.exit_code != 0) {
      EXPECT_EQ(r.exit_code, c.exit_code) << c.args[0] << ": " << r.err;
    }
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args[0] << ": " << r.err;
    EXPECT_EQ(r.out.find("certgate ready"), std::string::npos);
  }
}

TEST(ServeTest, RefusesAMasterKeyFileOthersCanRead) {
  TempDir dir;
  const auto data = dir.path() / "data";
  {
    auto server = CertgateServer::Start(ServerOptions::InDir(data));
    ASSERT_NE(server, nullptr);
    EXPECT_EQ(server->Stop(), 0);
  }
  ASSERT_EQ(chmod((data / "master.key").c_str(), 0644), 0);
  RunResult r = RunCommand({CertgateBinary(), "serve", "--data-dir", data.string(), "--api-listen",
                            "127.0.0.1:0", "--https-listen", "127.0.0.1:0", "--http-listen",
                            "127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
}

// A data directory and database left readable by others (e.g. made by hand,
// or copied with a wide umask) are narrowed at start, with one log line.
TEST(ServeTest, FixesADataDirAndDatabaseOthersCanRead) {
  TempDir dir;
  const auto data = dir.path() / "data";
  {
    auto server = CertgateServer::Start(ServerOptions::InDir(data));
    ASSERT_NE(server, nullptr);
    EXPECT_EQ(server->Stop(), 0);
    EXPECT_EQ(ReadFile(server->stderr_path()).find("fixed their permissions"), std::string::npos);
  }
  ASSERT_EQ(chmod(data.c_str(), 0755), 0);
  ASSERT_EQ(chmod((data / "certgate.db").c_str(), 0644), 0);
  auto server = CertgateServer::Start(ServerOptions::InDir(data));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(ModeOf(data), 0700u);
  EXPECT_EQ(ModeOf(data / "certgate.db"), 0600u);
  const std::string log = ReadFile(server->stderr_path());
  const std::string want = "others could use certgate's files; fixed their permissions: data "
                           "directory " + data.string() + " from 0755 to 0700; database " +
                           (data / "certgate.db").string() + " from 0644 to 0600";
  EXPECT_NE(log.find(want), std::string::npos) << log;
  EXPECT_EQ(Call(server->Client(server->NewAccountKey("payg")), verb::get, "/tls_certificates")
                .status,
            200);
  EXPECT_EQ(server->Stop(), 0);

  // The admin commands open the same files and fix them the same way.
  ASSERT_EQ(chmod(data.c_str(), 0750), 0);
  RunResult admin = RunCommand({CertgateBinary(), "admin", "accounts", "create", "--data-dir",
                                data.string(), "--name", "x", "--plan", "free"});
  EXPECT_EQ(admin.exit_code, 0) << admin.err;
  EXPECT_EQ(ModeOf(data), 0700u);
  EXPECT_NE(admin.err.find("fixed their permissions: data directory " + data.string() +
                           " from 0750 to 0700"),
            std::string::npos)
      << admin.err;
}

// One that belongs to another user cannot be fixed: refused. Needs root to
// hand the directory to another user.
TEST(ServeTest, RefusesADataDirOfAnotherUserOthersCanRead) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give a directory to another user";
  TempDir dir;
  const auto data = dir.path() / "data";
  ASSERT_EQ(mkdir(data.c_str(), 0755), 0);
  ASSERT_EQ(chmod(data.c_str(), 0755), 0);
  ASSERT_EQ(chown(data.c_str(), 65534, 65534), 0);
  RunResult r = RunCommand({CertgateBinary(), "serve", "--data-dir", data.string(), "--api-listen",
                            "127.0.0.1:0", "--https-listen", "127.0.0.1:0", "--http-listen",
                            "127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the data directory " + data.string() +
                       " may be used by others (mode 0755) and belongs to user id 65534"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(ModeOf(data), 0755u);
  EXPECT_FALSE(std::filesystem::exists(data / "master.key"));
}

TEST(ServeTest, HelpExplainsEveryCommand) {
  RunResult top = RunCommand({CertgateBinary(), "--help"});
  EXPECT_EQ(top.exit_code, 0);
  for (const char* cmd : {"serve", "admin", "certs"}) {
    EXPECT_NE(top.out.find(cmd), std::string::npos) << cmd;
  }
  RunResult serve = RunCommand({CertgateBinary(), "serve", "--help"});
  EXPECT_EQ(serve.exit_code, 0);
  for (const char* flag : {"--config", "--data-dir", "--store", "--api-listen", "--base-domain"}) {
    EXPECT_NE(serve.out.find(flag), std::string::npos) << flag;
  }
  RunResult none = RunCommand({CertgateBinary()});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("subcommand"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace certgate::testing
