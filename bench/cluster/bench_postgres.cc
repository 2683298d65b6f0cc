#include "cluster/bench_postgres.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/proc_stats.h"
#include "common/progress.h"
#include "support/process.h"

extern char** environ;  // NOLINT: POSIX leaves declaring it to the program

#ifndef CERTGATE_PG_TEST_CLUSTER_SCRIPT
#error "CERTGATE_PG_TEST_CLUSTER_SCRIPT must name tests/support/pg_test_cluster.sh (CMake sets it)"
#endif

namespace certgate::bench::cluster {
namespace {

constexpr char kScript[] = CERTGATE_PG_TEST_CLUSTER_SCRIPT;
constexpr char kPsql[] = "/usr/bin/psql";

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

BenchPostgres::BenchPostgres(int cpu, bool fsync) {
  // Under /tmp and short: the postgres user must reach it (as root the
  // script hands it over), and the socket's path must fit 107 bytes.
  char dir_template[] = "/tmp/cgcb-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) {
    throw std::runtime_error(fmt::format("mkdtemp: {}", std::strerror(errno)));
  }
  dir_ = dir_template;
  // The watcher first, so that from here on the dir goes with this process.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ::rmdir(dir_.c_str());
    throw std::runtime_error(fmt::format("pipe2: {}", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
  std::vector<std::string> args = {"/bin/bash", kScript, "watch", dir_};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int err = posix_spawn(&watcher_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[0]);
  if (err != 0) {
    ::close(fds[1]);
    ::rmdir(dir_.c_str());
    throw std::runtime_error(fmt::format("starting {} watch: {}", kScript, std::strerror(err)));
  }
  watcher_pipe_ = fds[1];
  try {
    testing::ProcessOptions po;
    if (cpu >= 0) po.cpu = cpu;
    testing::Process start({"/bin/bash", kScript, "start", dir_}, po);
    const auto code = start.Wait(std::chrono::seconds(180));
    const std::string out = start.StdoutToEof(std::chrono::seconds(5));
    if (code != 0) {
      throw std::runtime_error(fmt::format("`{} start {}` failed ({}):\n{}", kScript, dir_,
                                           code ? std::to_string(*code) : "timed out", out));
    }
    SetDurable(fsync);
  } catch (...) {
    StopWatcher();
    throw;
  }
}

BenchPostgres::~BenchPostgres() { StopWatcher(); }

void BenchPostgres::StopWatcher() {
  if (watcher_pipe_ >= 0) ::close(watcher_pipe_);
  watcher_pipe_ = -1;
  if (watcher_ > 0) {
    int status = 0;
    while (::waitpid(watcher_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  watcher_ = -1;
}

std::string BenchPostgres::Psql(const std::string& sql, const std::string& db) const {
  const testing::RunResult r = testing::RunCommand({kPsql, "-h", dir_ + "/socket", "-U", "postgres",
                                                    "-d", db, "-v", "ON_ERROR_STOP=1", "-Atc", sql},
                                                   {}, std::nullopt, std::chrono::seconds(600));
  if (r.exit_code != 0) {
    throw std::runtime_error(fmt::format("psql '{}': {}{}", sql, r.out, r.err));
  }
  return Trimmed(r.out);
}

void BenchPostgres::SetDurable(bool fsync) {
  const std::string on_off = fsync ? "on" : "off";
  // One statement per psql call: ALTER SYSTEM refuses a transaction block.
  for (const std::string& sql :
       {"ALTER SYSTEM SET fsync = " + on_off, "ALTER SYSTEM SET full_page_writes = " + on_off,
        std::string("ALTER SYSTEM SET synchronous_commit = on"),
        std::string("ALTER SYSTEM SET autovacuum = on"), std::string("SELECT pg_reload_conf()")}) {
    Psql(sql);
  }
  // The postmaster applies a reload when it gets to the signal; sessions
  // forked after that see it.
  const std::string want = fmt::format("{}|{}|on|on", on_off, on_off);
  std::string now;
  for (int i = 0; i < 100; ++i) {
    now = Psql(
        "SELECT current_setting('fsync') || '|' || current_setting('full_page_writes') || '|' "
        "|| current_setting('synchronous_commit') || '|' || current_setting('autovacuum')");
    if (now == want) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error(fmt::format("PostgreSQL's settings are {}, not {}", now, want));
}

std::string BenchPostgres::CreateDatabase(const std::string& name) {
  Psql("CREATE DATABASE " + name);
  return fmt::format("host={}/socket user=postgres dbname={}", dir_, name);
}

std::string BenchPostgres::Describe() const {
  return Psql(
      "SELECT 'PostgreSQL ' || current_setting('server_version') || ': fsync ' || "
      "current_setting('fsync') || ', synchronous_commit ' || "
      "current_setting('synchronous_commit') || ', full_page_writes ' || "
      "current_setting('full_page_writes') || ', wal_sync_method ' || "
      "current_setting('wal_sync_method') || ', shared_buffers ' || "
      "current_setting('shared_buffers') || ', autovacuum ' || current_setting('autovacuum')");
}

pid_t BenchPostgres::Postmaster() const {
  const std::string text = testing::ReadFile(dir_ + "/data/postmaster.pid");
  return static_cast<pid_t>(std::atol(text.c_str()));
}

double BenchPostgres::CpuSeconds() const {
  const pid_t postmaster = Postmaster();
  if (postmaster <= 0) return 0;
  double sum = 0;
  for (pid_t pid : ProcessTree(postmaster)) {
    try {
      sum += bench::CpuSeconds(pid);
    } catch (const std::exception&) {
      // Exited since the listing.
    }
  }
  return sum;
}

}  // namespace certgate::bench::cluster
