#include "acme/lego_stage.h"

#include <map>
#include <optional>

#include <fmt/format.h>

#include "acme/acme_peers.h"
#include "acme/chain_check.h"
#include "common/proc_stats.h"
#include "common/progress.h"
#include "support/process.h"

namespace certgate::bench::acme {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class LegoStage {
 public:
  LegoStage(const Options& o, const std::vector<std::string>& names, bool one_certificate,
            fs::path dir)
      : o_(o), names_(names), one_certificate_(one_certificate), dir_(std::move(dir)) {}

  StageResult Run() {
    StageResult r;
    r.ran = true;
    const std::string label(ToolKey(one_certificate_ ? Tool::kLegoOne : Tool::kLegoEach));
    Progress("  {}: starting Pebble, challtestsrv, unbound", label);
    Peers peers;
    CheckStop();
    const fs::path lego_path = dir_ / "lego";
    std::map<std::string, std::string> env = NoProxyEnv();
    env["LEGO_CA_CERTIFICATES"] = peers.pebble().ca_file();
    env["LEGO_PATH"] = "";
    auto argv_for = [&](const std::vector<std::string>& domains) {
      std::vector<std::string> argv = {o_.lego,
                                       "--accept-tos",
                                       "--email",
                                       kEmail,
                                       "--server",
                                       peers.pebble().directory_url(),
                                       "--path",
                                       lego_path.string(),
                                       "--key-type",
                                       "ec256",
                                       "--http",
                                       "--http.port",
                                       fmt::format("127.0.0.1:{}", peers.http_port())};
      for (const std::string& d : domains) argv.insert(argv.end(), {"--domains", d});
      argv.push_back("run");
      return argv;
    };

    const CpuTimes steal0 = ReadCpuTimes();
    const Clock::time_point t0 = Clock::now();
    const Clock::time_point deadline = t0 + std::chrono::seconds(o_.timeout_seconds);
    for (const std::string& name : names_) peers.customer().AddA(name, "127.0.0.1");
    const double cpu0 = ChildrenCpuSeconds();  // after the curl calls the DNS changes made
    int failed_runs = 0;
    if (one_certificate_) {
      if (!RunLego(argv_for(names_), env, dir_ / "lego.log", deadline, r)) ++failed_runs;
    } else {
      for (size_t i = 0; i < names_.size(); ++i) {
        const Clock::time_point s = Clock::now();
        if (!RunLego(argv_for({names_[i]}), env, dir_ / fmt::format("lego-{:02}.log", i), deadline,
                     r)) {
          ++failed_runs;
        }
        Progress("  {}: {}/{} {} in {:.2f} s", label, i + 1, names_.size(), names_[i],
                 Seconds(Clock::now() - s));
        if (Clock::now() >= deadline) break;
      }
    }
    r.wall = Seconds(Clock::now() - t0);
    r.cpu = ChildrenCpuSeconds() - cpu0;
    r.steal = StealPercent(steal0, ReadCpuTimes()).value_or(0);
    for (const auto& entry : fs::directory_iterator(dir_)) {
      if (entry.path().extension() == ".log") {
        r.retries +=
            static_cast<int>(CountOccurrences(testing::ReadFile(entry.path()), "retry due to"));
      }
    }
    Progress("  {}: done in {:.2f} s ({} failed lego runs, {} badNonce retries); verifying", label,
             r.wall, failed_runs, r.retries);

    const std::string roots = peers.pebble().IssuingRootsPem();
    for (const std::string& name : names_) {
      const std::string file_name = one_certificate_ ? names_.front() : name;
      const fs::path crt = lego_path / "certificates" / (file_name + ".crt");
      if (!fs::exists(crt)) {
        AddProblem(r, fmt::format("{}: no {}", label, crt.string()));
        continue;
      }
      const std::string why = VerifyChain(testing::ReadFile(crt), roots, name);
      if (why.empty()) {
        ++r.issued;
      } else {
        AddProblem(
            r, fmt::format("{}: {} does not verify for {}: {}", label, crt.string(), name, why));
      }
    }
    return r;
  }

 private:
  // Runs one lego to its end (or the deadline); false when it failed.
  bool RunLego(std::vector<std::string> argv, const std::map<std::string, std::string>& env,
               const fs::path& log, Clock::time_point deadline, StageResult& r) {
    testing::Process lego(std::move(argv), env, log);
    std::optional<int> code;
    while (!(code = lego.Wait(std::chrono::milliseconds(200)))) {
      CheckStop();
      if (Clock::now() >= deadline) {
        AddProblem(r, fmt::format("lego gave no answer before --timeout; {}", log.string()));
        return false;  // Process's destructor kills it
      }
    }
    if (*code != 0) {
      AddProblem(r, fmt::format("lego exited with {}: {}", *code,
                                testing::TailLines(testing::ReadFile(log), 5)));
      return false;
    }
    return true;
  }

  const Options& o_;
  const std::vector<std::string>& names_;
  bool one_certificate_;
  fs::path dir_;
};

}  // namespace

StageResult RunLegoStage(const Options& o, const std::vector<std::string>& names,
                         bool one_certificate, const std::filesystem::path& dir) {
  return LegoStage(o, names, one_certificate, dir).Run();
}

}  // namespace certgate::bench::acme
