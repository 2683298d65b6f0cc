#include "store/testing/pg_test_server.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/ids.h"
#include "store/postgres/migrations.h"
#include "store/postgres/pg_store.h"

extern char** environ;  // NOLINT: POSIX leaves declaring it to the program

#ifndef CERTGATE_PG_TEST_CLUSTER_SCRIPT
#error "CERTGATE_PG_TEST_CLUSTER_SCRIPT must name tests/support/pg_test_cluster.sh (CMake sets it)"
#endif

namespace certgate::store::testing {
namespace {

constexpr char kScript[] = CERTGATE_PG_TEST_CLUSTER_SCRIPT;
constexpr char kHostVariable[] = "CERTGATE_TEST_PG_HOST";
// Taken by every test process that shares a server while it looks for the
// template and makes it. Advisory lock keys are per database: this one is
// only ever taken in the postgres database, so it cannot meet the store's
// own keys (store/postgres/connection.h), which are taken in the store's.
constexpr int64_t kTemplateLock = 7306041801243689001;
// Every database NewDatabase makes is named cg_<16 hex digits>; DropDatabase
// drops nothing else, so a wrong argument cannot drop the template.
constexpr std::string_view kDatabasePrefix = "cg_";

// ---- The cluster script (tests/support/pg_test_cluster.sh) ----

Error SystemError(std::string_view what, int err) {
  return MakeError(ErrorCode::kIo, fmt::format("{}: {}", what, std::strerror(err)));
}

// Starts `bash <script> args...`: stdin from stdin_fd (-1: /dev/null),
// stdout and stderr to out_fd (-1: this process's).
Result<pid_t> SpawnScript(const std::vector<std::string>& args, int stdin_fd, int out_fd) {
  std::vector<std::string> argv_text = {"/bin/bash", kScript};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_text) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  if (out_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
  }
  pid_t pid = -1;
  const int err = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return SystemError(fmt::format("starting {}", kScript), err);
  return pid;
}

// The exit code, or 128 + the signal that killed it.
int WaitFor(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct ScriptRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr together, as a person would see them
};

Result<ScriptRun> RunScript(const std::vector<std::string>& args) {
  int fds[2];
  // Close-on-exec: the pipe's ends must not leak into other children this
  // process spawns meanwhile, or the read below would wait for them too.
  if (::pipe2(fds, O_CLOEXEC) != 0) return SystemError("pipe2", errno);
  auto pid = SpawnScript(args, -1, fds[1]);
  ::close(fds[1]);
  if (!pid.ok()) {
    ::close(fds[0]);
    return std::move(pid).error();
  }
  // The server the script starts writes to its own log, not to this pipe,
  // so EOF comes when the script ends.
  ScriptRun run;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      run.output.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  run.exit_code = WaitFor(*pid);
  return run;
}

// ---- The server ----

// The server this process's tests use, found or started on first use.
class Server {
 public:
  static Server& Get() {
    static Server server;
    return server;
  }

  // Its socket directory. A server that failed to start is not tried again
  // (each test would wait for initdb to fail the same way): every later call
  // returns the first error.
  Result<std::string> Host() {
    std::lock_guard lock(mu_);
    if (!host_.has_value()) {
      const char* given = std::getenv(kHostVariable);
      if (given != nullptr && *given != '\0') {
        host_ = std::string(given);
      } else {
        host_ = Start();
      }
    }
    return *host_;
  }

  // Closing the watcher's pipe is what stops the server and removes its
  // directory; waiting for the watcher makes that done before exit.
  ~Server() {
    if (::getpid() != owner_) return;  // a forked child (a death test) owns nothing
    if (watcher_pipe_ >= 0) {
      ::close(watcher_pipe_);
      WaitFor(watcher_);
    }
  }

 private:
  Server() = default;

  Result<std::string> Start() {
    // Under /tmp, not $TMPDIR: the postgres user must be able to reach it
    // (the script hands the directory over to it when we are root), and the
    // socket's path must stay within a unix socket address's 107 bytes.
    char dir_template[] = "/tmp/certgate-pg-XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) {
      return SystemError(fmt::format("making {}", dir_template), errno);
    }
    const std::string dir = dir_template;

    // The watcher first: from here on the directory, and the server once
    // started, go when this process ends, even when it is killed. Its stdin
    // is a pipe whose only writer is this process (close-on-exec keeps the
    // write end out of every other child).
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      std::filesystem::remove_all(dir);
      return SystemError("pipe2", errno);
    }
    auto watcher = SpawnScript({"watch", dir}, fds[0], -1);
    ::close(fds[0]);
    if (!watcher.ok()) {
      ::close(fds[1]);
      std::filesystem::remove_all(dir);
      return std::move(watcher).error();
    }
    watcher_ = *watcher;
    watcher_pipe_ = fds[1];

    auto run = RunScript({"start", dir});
    if (!run.ok() || run->exit_code != 0) {
      ::close(watcher_pipe_);  // the watcher removes what start left
      watcher_pipe_ = -1;
      WaitFor(watcher_);
      if (!run.ok()) return std::move(run).error();
      return MakeError(ErrorCode::kStoreUnavailable,
                       fmt::format("could not start a test PostgreSQL: `{} start {}` exited "
                                   "with {}:\n{}(set {} to the socket directory of a running "
                                   "server to use that instead)",
                                   kScript, dir, run->exit_code, run->output, kHostVariable));
    }
    std::ifstream in(dir + "/socket_dir");
    std::string socket_dir;
    std::getline(in, socket_dir);
    if (socket_dir.empty()) {
      return MakeError(ErrorCode::kStoreUnavailable,
                       fmt::format("{} start {} wrote no {}/socket_dir; it printed:\n{}", kScript,
                                   dir, dir, run->output));
    }
    return socket_dir;
  }

  std::mutex mu_;
  std::optional<Result<std::string>> host_;  // GUARDED_BY(mu_)
  const pid_t owner_ = ::getpid();
  pid_t watcher_ = -1;
  int watcher_pipe_ = -1;  // -1: no watcher (an external server, or not started)
};

// ---- libpq ----

struct ConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnDeleter>;
struct ResultDeleter {
  void operator()(PGresult* res) const { PQclear(res); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// A conninfo value, quoted only when it must be (libpq's key=value syntax).
std::string ConnValue(std::string_view value) {
  if (!value.empty() && value.find_first_of(" '\\") == std::string_view::npos) {
    return std::string(value);
  }
  std::string quoted = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "'";
}

std::string ConnInfo(std::string_view host, std::string_view dbname) {
  return fmt::format("host={} user=postgres dbname={}", ConnValue(host), ConnValue(dbname));
}

Result<ConnPtr> Connect(const std::string& host, std::string_view dbname) {
  ConnPtr conn(PQconnectdb((ConnInfo(host, dbname) + " connect_timeout=10").c_str()));
  if (conn == nullptr || PQstatus(conn.get()) != CONNECTION_OK) {
    const bool given = std::getenv(kHostVariable) != nullptr;
    return MakeError(ErrorCode::kStoreUnavailable,
                     fmt::format("connecting to the test PostgreSQL at {}{} (user postgres, "
                                 "database {}): {}",
                                 host, given ? fmt::format(" ({})", kHostVariable) : "", dbname,
                                 conn != nullptr ? PQerrorMessage(conn.get()) : "out of memory"));
  }
  // NOTICEs (DROP ... IF EXISTS of a missing database) would go to stderr.
  PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
  return conn;
}

// Runs a statement; with params, as a parameterized query (text values).
Result<ResultPtr> Exec(PGconn* conn, const std::string& sql,
                       const std::vector<std::string>& params = {}) {
  std::vector<const char*> values;
  for (const std::string& p : params) values.push_back(p.c_str());
  ResultPtr res(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0));
  const ExecStatusType status = PQresultStatus(res.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return MakeError(ErrorCode::kStoreIo, fmt::format("test PostgreSQL: {}: {}", sql,
                                                      PQerrorMessage(conn)));
  }
  return res;
}

// ---- The template ----

// Which schema the template holds: the version, and a hash of the
// migrations' text, since a migration not yet shipped is still edited in
// place under the same version. FNV-1a: stable across builds and runs.
std::string TemplateName() {
  uint32_t hash = 2166136261u;
  auto mix = [&hash](std::string_view bytes) {
    for (char c : bytes) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 16777619u;
    }
  };
  for (const pg::Migration& m : pg::Migrations()) {
    mix(std::to_string(m.version));
    mix(m.sql);
  }
  return fmt::format("certgate_template_v{}_{:08x}", PostgresSchemaVersion(), hash);
}

// Makes the template unless a process before did. REQUIRES: conn holds
// kTemplateLock.
Result<void> MakeTemplateLocked(PGconn* conn, const std::string& host, const std::string& name) {
  CG_ASSIGN_OR_RETURN(ResultPtr found,
                      Exec(conn, "SELECT datistemplate FROM pg_database WHERE datname = $1",
                           {name}));
  if (PQntuples(found.get()) == 1) {
    // Marked a template last, so a marked one is whole.
    if (std::string_view(PQgetvalue(found.get(), 0, 0)) == "t") return {};
    // Made by a process that died (or failed to migrate) before marking it.
    CG_RETURN_IF_ERROR(Exec(conn, fmt::format("DROP DATABASE {} WITH (FORCE)", name)));
  }
  CG_RETURN_IF_ERROR(Exec(conn, fmt::format("CREATE DATABASE {}", name)));
  {
    // The store migrates as it opens; destroyed at once, so that its
    // connections are gone before the database is copied (CREATE DATABASE
    // refuses a template anyone is connected to).
    auto store = OpenPostgresStore(ConnInfo(host, name));
    if (!store.ok()) {
      return MakeError(store.error().code,
                       fmt::format("migrating the test template database {}: {}", name,
                                   store.error().message));
    }
  }
  // No connections from now on: a stray one (a test pointed at it by
  // mistake) would make every copy fail.
  CG_RETURN_IF_ERROR(Exec(
      conn, fmt::format("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false", name)));
  return {};
}

// The template's name, once it exists; made if needed. Once per process:
// after that, the template is known to exist.
Result<std::string> EnsureTemplate(PGconn* conn, const std::string& host) {
  static std::mutex mu;
  static bool done = false;  // GUARDED_BY(mu)
  static const std::string name = TemplateName();
  std::lock_guard lock(mu);
  if (done) return name;
  // Other test processes on the same server may be here at the same moment.
  CG_RETURN_IF_ERROR(Exec(conn, fmt::format("SELECT pg_advisory_lock({})", kTemplateLock)));
  Result<void> made = MakeTemplateLocked(conn, host, name);
  // The lock would go with the session anyway; the connection lives on.
  (void)Exec(conn, fmt::format("SELECT pg_advisory_unlock({})", kTemplateLock));
  CG_RETURN_IF_ERROR(made);
  done = true;
  return name;
}

// The database a conninfo names, or the argument itself when it is a bare
// name rather than a conninfo.
std::string DatabaseName(std::string_view conninfo_or_name) {
  const std::string text(conninfo_or_name);
  char* err = nullptr;
  PQconninfoOption* options = PQconninfoParse(text.c_str(), &err);
  if (options == nullptr) {
    PQfreemem(err);
    return text;
  }
  std::string name;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::strcmp(o->keyword, "dbname") == 0 && o->val != nullptr) name = o->val;
  }
  PQconninfoFree(options);
  return name;
}

bool MadeByNewDatabase(std::string_view name) {
  if (!name.starts_with(kDatabasePrefix) || name.size() == kDatabasePrefix.size()) return false;
  for (char c : name.substr(kDatabasePrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Result<std::string> NewDatabase() {
  CG_ASSIGN_OR_RETURN(std::string host, Server::Get().Host());
  CG_ASSIGN_OR_RETURN(ConnPtr conn, Connect(host, "postgres"));
  CG_ASSIGN_OR_RETURN(std::string template_name, EnsureTemplate(conn.get(), host));

  unsigned char bytes[8];
  RandomBytes(bytes, sizeof bytes);
  std::string name(kDatabasePrefix);
  for (unsigned char b : bytes) name += fmt::format("{:02x}", b);
  // FILE_COPY (PostgreSQL 15+) copies the template's files after a
  // checkpoint, which fsync=off makes cheap; the default WAL_LOG copies
  // every page through the buffer cache and the WAL. Measured on this
  // schema (an 8 MB copy, mostly the catalogs), alternating the two on a
  // busy 2-CPU machine: as fast alone, 5-25% faster with two to four
  // processes creating databases and writing beside each other.
  const char* strategy = PQserverVersion(conn.get()) >= 150000 ? " STRATEGY FILE_COPY" : "";
  CG_RETURN_IF_ERROR(Exec(
      conn.get(), fmt::format("CREATE DATABASE {} TEMPLATE {}{}", name, template_name, strategy)));
  return ConnInfo(host, name);
}

void DropDatabase(std::string_view conninfo_or_name) {
  const std::string name = DatabaseName(conninfo_or_name);
  if (!MadeByNewDatabase(name)) {
    ADD_FAILURE() << "DropDatabase(\"" << conninfo_or_name << "\"): \"" << name
                  << "\" is not a database NewDatabase made (cg_<hex>); not dropping it";
    return;
  }
  auto host = Server::Get().Host();
  if (!host.ok()) {
    ADD_FAILURE() << "dropping test database " << name << ": " << host.error().message;
    return;
  }
  auto conn = Connect(*host, "postgres");
  if (!conn.ok()) {
    ADD_FAILURE() << "dropping test database " << name << ": " << conn.error().message;
    return;
  }
  // FORCE: a store a test leaked (or one still closing) would otherwise
  // keep it.
  auto dropped =
      Exec(conn->get(), fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name));
  if (!dropped.ok()) ADD_FAILURE() << dropped.error().message;
}

}  // namespace certgate::store::testing
