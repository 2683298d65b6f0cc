#include "acme/certgate_stage.h"

#include <map>
#include <memory>
#include <stdexcept>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "acme/acme_peers.h"
#include "acme/chain_check.h"
#include "client/api_client.h"
#include "common/proc_stats.h"
#include "common/progress.h"
#include "support/certgate_server.h"
#include "support/process.h"

namespace certgate::bench::acme {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using boost::beast::http::verb;
using Clock = std::chrono::steady_clock;

std::string JsonString(const json::value& v, std::string_view key) {
  const json::object* o = v.if_object();
  if (o == nullptr) return "";
  const json::value* f = o->if_contains(key);
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : "";
}

// Sends one API request and wants `status` back; returns the JSON body.
json::value ApiCall(const client::ApiClient& api, verb method, const std::string& path,
                    const json::object& body, int status) {
  auto res = api.Send(method, path, json::serialize(body));
  if (!res) {
    throw std::runtime_error(
        fmt::format("{} {}: {}", std::string_view(to_string(method)), path, res.error().message));
  }
  if (res->status != status) {
    throw std::runtime_error(fmt::format("{} {} answered {}: {}",
                                         std::string_view(to_string(method)), path, res->status,
                                         res->body));
  }
  return json::parse(res->body);
}

// certgate (dns_ready false) or certgate-ready (true): see the header comment.
class CertgateStage {
 public:
  CertgateStage(const Options& o, const std::vector<std::string>& names, bool dns_ready,
                fs::path dir)
      : o_(o),
        names_(names),
        dns_ready_(dns_ready),
        label_(ToolKey(dns_ready ? Tool::kCertgateReady : Tool::kCertgate)),
        dir_(std::move(dir)) {}

  StageResult Run() {
    StageResult r;
    r.ran = true;
    Progress("  {}: starting Pebble, challtestsrv, unbound", label_);
    Peers peers;
    CheckStop();
    StartServer(peers);
    Progress("  {}: serve ready ({})", label_, api_url_);
    auto api_or = client::ApiClient::Create(api_url_, api_key_);
    if (!api_or) throw std::runtime_error("API client: " + api_or.error().message);
    const client::ApiClient& api = *api_or;
    const json::object policy{{"authority", "letsencrypt"}, {"private_key_type", "ecdsa"}};

    std::map<std::string, std::string> name_by_id;
    if (dns_ready_) {
      // Untimed: the domains without a policy, and their CNAMEs.
      for (const std::string& name : names_) {
        json::value d = ApiCall(api, verb::post, "/reserved_domains", {{"domain", name}}, 201);
        peers.customer().SetCname(name, JsonString(d, "cname_target"));
        name_by_id[JsonString(d, "id")] = name;
      }
      Progress("  {}: {} domains and their CNAMEs in place; turning their policies on", label_,
               names_.size());
    }

    const CpuTimes steal0 = ReadCpuTimes();
    const double cpu0 = CpuSeconds(server_->process().pid());
    const Clock::time_point t0 = Clock::now();
    const Clock::time_point deadline = t0 + std::chrono::seconds(o_.timeout_seconds);
    if (dns_ready_) {
      for (const auto& [id, name] : name_by_id) {
        ApiCall(api, verb::patch, "/reserved_domains/" + id,
                {{"certificate_management_policy", policy}}, 200);
      }
    } else {
      for (const std::string& name : names_) {
        json::value d = ApiCall(api, verb::post, "/reserved_domains",
                                {{"domain", name}, {"certificate_management_policy", policy}}, 201);
        peers.customer().SetCname(name, JsonString(d, "cname_target"));
        name_by_id[JsonString(d, "id")] = name;
      }
    }
    Progress("  {}: {} requests sent{} in {:.2f} s", label_, names_.size(),
             dns_ready_ ? "" : " and CNAMEs set", Seconds(Clock::now() - t0));

    // Poll until every domain has a certificate.
    std::map<std::string, std::string> cert_by_id;
    Clock::time_point next_report = Clock::now() + std::chrono::seconds(5);
    json::value last_list;
    for (;;) {
      auto res = api.Send(verb::get, "/reserved_domains?limit=100");
      if (res && res->status == 200) {
        last_list = json::parse(res->body);
        for (const json::value& d : last_list.as_object().at("reserved_domains").as_array()) {
          const std::string id = JsonString(d, "id");
          if (!name_by_id.contains(id)) continue;
          const json::value* c = d.as_object().if_contains("certificate");
          if (c != nullptr && c->is_object()) cert_by_id[id] = JsonString(*c, "id");
        }
      }
      if (cert_by_id.size() == name_by_id.size() || Clock::now() >= deadline) break;
      if (Clock::now() >= next_report) {
        Progress("  {}: {}/{} issued, {} retries so far", label_, cert_by_id.size(),
                 name_by_id.size(), CountRetries());
        next_report += std::chrono::seconds(5);
      }
      SleepFor(std::chrono::milliseconds(50));
    }
    r.wall = Seconds(Clock::now() - t0);
    r.cpu = CpuSeconds(server_->process().pid()) - cpu0;
    r.steal = StealPercent(steal0, ReadCpuTimes()).value_or(0);
    r.retries = CountRetries();
    Progress("  {}: {}/{} issued in {:.2f} s ({} retries); verifying", label_, cert_by_id.size(),
             name_by_id.size(), r.wall, r.retries);

    // Verify each certificate, and explain the missing ones.
    const std::string roots = peers.pebble().IssuingRootsPem();
    for (const auto& [id, name] : name_by_id) {
      auto it = cert_by_id.find(id);
      if (it == cert_by_id.end()) {
        std::string status;
        if (last_list.is_object()) {
          for (const json::value& d : last_list.as_object().at("reserved_domains").as_array()) {
            if (JsonString(d, "id") == id) {
              status = json::serialize(d.as_object().at("certificate_management_status"));
            }
          }
        }
        AddProblem(r, fmt::format("{}: no certificate for {}: {}", label_, name, status));
        continue;
      }
      auto cert = api.Send(verb::get, "/tls_certificates/" + it->second);
      if (!cert || cert->status != 200) {
        AddProblem(r, fmt::format("{}: GET /tls_certificates/{} failed", label_, it->second));
        continue;
      }
      const std::string why =
          VerifyChain(JsonString(json::parse(cert->body), "certificate_pem"), roots, name);
      if (why.empty()) {
        ++r.issued;
      } else {
        AddProblem(
            r, fmt::format("{}: the certificate for {} does not verify: {}", label_, name, why));
      }
    }
    if (r.retries > 0) {
      AddProblem(r, label_ + " retried (the first one): " + FirstRetryLine());
    }
    StopServer();
    if (r.issued != static_cast<int>(names_.size())) {
      AddProblem(
          r, label_ + ": the log's tail:\n" + testing::TailLines(testing::ReadFile(log_path_), 30));
    }
    return r;
  }

 private:
  void StartServer(Peers& peers) {
    testing::ServerOptions so = testing::ServerOptions::InDir(dir_ / "data", NoProxyEnv());
    so.binary = o_.certgate;
    so.extra_args = {
        "--base-domain",      kBase,
        "--http-listen",      fmt::format("127.0.0.1:{}", peers.http_port()),
        "--dns-listen",       fmt::format("127.0.0.1:{}", peers.dns_port()),
        "--edge-address",     "127.0.0.1",
        "--resolver",         peers.unbound().address(),
        "--acme-directory",   peers.pebble().directory_url(),
        "--acme-ca-file",     peers.pebble().ca_file(),
        "--acme-concurrency", std::to_string(o_.acme_concurrency),
        "--acme-retry-min",   std::to_string(o_.acme_retry_min),
    };
    server_ = testing::CertgateServer::Start(so);
    if (!server_) throw std::runtime_error("certgate serve did not become ready (see above)");
    log_path_ = server_->stderr_path();
    api_url_ = server_->api_url();
    api_key_ = server_->api_key();
    if (api_url_.empty() || api_key_.empty()) {
      throw std::runtime_error("certgate serve printed no API URL or key:\n" +
                               server_->process().Stdout());
    }
  }

  void StopServer() {
    if (server_->Stop() < 0) Progress("  {}: no exit after SIGTERM", label_);
    server_.reset();  // kills it if it is still there
  }

  int CountRetries() const {
    return static_cast<int>(CountOccurrences(testing::ReadFile(log_path_), "failed (attempt"));
  }

  std::string FirstRetryLine() const {
    std::istringstream in(testing::ReadFile(log_path_));
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("failed (attempt") != std::string::npos) return line;
    }
    return "";
  }

  const Options& o_;
  const std::vector<std::string>& names_;
  const bool dns_ready_;
  const std::string label_;
  fs::path dir_;
  fs::path log_path_;
  std::unique_ptr<testing::CertgateServer> server_;
  std::string api_url_;
  std::string api_key_;
};

}  // namespace

StageResult RunCertgateStage(const Options& o, const std::vector<std::string>& names,
                             bool dns_ready, const std::filesystem::path& dir) {
  return CertgateStage(o, names, dns_ready, dir).Run();
}

}  // namespace certgate::bench::acme
