#include "support/certgate_server.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>

#include <gtest/gtest.h>
#include <signal.h>

#include <sstream>
#include <stdexcept>

namespace certgate::testing {

std::string CertgateBinary() { return CERTGATE_BINARY; }

std::unique_ptr<CertgateServer> CertgateServer::Launch(ServerOptions options) {
  auto server = std::unique_ptr<CertgateServer>(new CertgateServer());
  if (options.data_dir.empty()) {
    server->temp_ = std::make_unique<TempDir>();
    server->data_dir_ = server->temp_->path() / "data";
  } else {
    server->data_dir_ = options.data_dir;
  }
  server->stderr_path_ = server->data_dir_.parent_path() / ("serve-" + std::to_string(getpid()) +
                                                             "-" + std::to_string(rand()) + ".log");
  server->env_ = options.env;
  server->api_ca_file_ = options.api_ca_file;
  std::vector<std::string> argv = {options.binary.empty() ? CertgateBinary() : options.binary,
                                   "serve", "--data-dir",
                                   server->data_dir_.string()};
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  // Defaults for what the test did not give: listeners on free loopback
  // ports, and, since tests never reach beyond 127.0.0.1, automatic
  // certificates pointed at a port where nothing listens.
  const std::pair<const char*, const char*> defaults[] = {
      {"--api-listen", "127.0.0.1:0"},
      {"--https-listen", "127.0.0.1:0"},
      {"--http-listen", "127.0.0.1:0"},
      {"--acme-directory", "https://127.0.0.1:9/directory"},
      {"--resolver", "127.0.0.1:9"},
  };
  for (const auto& [flag, value] : defaults) {
    if (std::find(options.extra_args.begin(), options.extra_args.end(), flag) ==
        options.extra_args.end()) {
      argv.insert(argv.end(), {flag, value});
    }
  }
  server->process_ = std::make_unique<Process>(
      argv, ProcessOptions{.env = options.env, .stderr_path = server->stderr_path_,
                           .cpu = options.cpu});
  return server;
}

std::unique_ptr<CertgateServer> CertgateServer::Start(ServerOptions options) {
  const auto ready_timeout = options.ready_timeout;
  auto server = Launch(std::move(options));
  return WaitReady(std::move(server), ready_timeout);
}

std::vector<std::unique_ptr<CertgateServer>> CertgateServer::StartTogether(
    std::vector<ServerOptions> options) {
  std::vector<std::unique_ptr<CertgateServer>> servers;
  std::vector<std::chrono::seconds> timeouts;
  for (ServerOptions& o : options) {
    timeouts.push_back(o.ready_timeout);
    servers.push_back(Launch(std::move(o)));
  }
  for (size_t i = 0; i < servers.size(); ++i) {
    servers[i] = WaitReady(std::move(servers[i]), timeouts[i]);
  }
  return servers;
}

std::unique_ptr<CertgateServer> CertgateServer::WaitReady(std::unique_ptr<CertgateServer> server,
                                                          std::chrono::seconds timeout) {
  auto ready = server->process_->WaitForLine("certgate ready", timeout);
  if (!ready) {
    ADD_FAILURE() << "certgate serve did not become ready; stdout:\n"
                  << server->process_->Stdout() << "\nstderr:\n"
                  << ReadFile(server->stderr_path_);
    return nullptr;
  }
  std::istringstream out(server->process_->Stdout());
  std::string line;
  while (std::getline(out, line)) {
    if (line.rfind("api: ", 0) == 0) server->api_url_ = line.substr(5);
    auto port_of = [](const std::string& addr) {
      return static_cast<uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
    };
    if (line.rfind("https: ", 0) == 0) server->https_port_ = port_of(line);
    if (line.rfind("http: ", 0) == 0) server->http_port_ = port_of(line);
    if (line.rfind("  export CERTGATE_API_KEY=", 0) == 0) {
      server->api_key_ = line.substr(std::string("  export CERTGATE_API_KEY=").size());
    }
  }
  return server;
}

CertgateServer::~CertgateServer() {
  if (process_ && process_->running()) Kill();
  if (::testing::Test::HasFailure() && process_) {
    std::string log = ReadFile(stderr_path_);
    if (log.size() > 20000) log = "...\n" + log.substr(log.size() - 20000);
    std::fprintf(stderr, "--- certgate serve exited with %d; its log:\n%s--- end of log\n",
                 process_->Wait(std::chrono::seconds(1)).value_or(-1), log.c_str());
  }
}

client::ApiClient CertgateServer::Client(const std::string& key) const {
  client::ClientOptions client_options;
  client_options.ca_file = api_ca_file_;
  auto c = client::ApiClient::Create(api_url_, key, client_options);
  if (!c) throw std::runtime_error(c.error().message);
  return std::move(*c);
}

RunResult CertgateServer::Admin(std::vector<std::string> args) const {
  std::vector<std::string> argv = {CertgateBinary(), "admin"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--data-dir");
  argv.push_back(data_dir_.string());
  return RunCommand(argv, env_);
}

std::string CertgateServer::NewAccountKey(const std::string& plan) const {
  RunResult account = Admin({"accounts", "create", "--name", "test-" + plan, "--plan", plan});
  EXPECT_EQ(account.exit_code, 0) << account.err;
  std::string id = account.out.substr(0, account.out.find('\n'));
  RunResult key = Admin({"api-keys", "create", "--account", id});
  EXPECT_EQ(key.exit_code, 0) << key.err;
  return key.out.substr(0, key.out.find('\n'));
}

int CertgateServer::Stop() {
  process_->Signal(SIGTERM);
  return process_->Wait(std::chrono::seconds(20)).value_or(-1);
}

void CertgateServer::Kill() {
  process_->Signal(SIGKILL);
  process_->Wait(std::chrono::seconds(10));
}

std::string RandomMasterKey() {
  unsigned char key[32];
  if (RAND_bytes(key, sizeof key) != 1) throw std::runtime_error("RAND_bytes failed");
  unsigned char b64[4 * ((sizeof key + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, key, sizeof key);
  OPENSSL_cleanse(key, sizeof key);
  return "v1:" + std::string(reinterpret_cast<const char*>(b64), static_cast<size_t>(n));
}

}  // namespace certgate::testing
