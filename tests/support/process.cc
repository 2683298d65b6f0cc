#include "support/process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace certgate::testing {
namespace {

std::vector<std::string> MergedEnv(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) {
    if (v.empty()) {
      env.erase(k);
    } else {
      env[k] = v;
    }
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

}  // namespace

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> env,
                 std::filesystem::path stderr_path, std::optional<std::string> stdin_text)
    : Process(std::move(argv), ProcessOptions{.env = std::move(env),
                                              .stderr_path = std::move(stderr_path),
                                              .stdin_text = std::move(stdin_text)}) {}

Process::Process(std::vector<std::string> argv, ProcessOptions options) {
  const auto& env = options.env;
  const auto& stderr_path = options.stderr_path;
  const auto& stdin_text = options.stdin_text;
  int out_pipe[2];
  int in_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(in_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> env_strings = MergedEnv(env);
  std::vector<char*> c_argv, c_env;
  for (auto& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  for (auto& e : env_strings) c_env.push_back(e.data());
  c_env.push_back(nullptr);
  int err_fd = -1;
  if (!stderr_path.empty()) {
    err_fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }

  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    if (err_fd >= 0) dup2(err_fd, 2);
    setpgid(0, 0);  // its own group, so that a kill reaches its children too
    // If the test dies without running destructors (a crash), so does the
    // peer, rather than lingering on its port. (Tied to the forking thread:
    // processes are started from the thread that owns them.)
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl
    if (options.cpu) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(*options.cpu, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    if (options.default_sigpipe) signal(SIGPIPE, SIG_DFL);
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) _exit(127);
    execve(c_argv[0], c_argv.data(), c_env.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(in_pipe[0]);
  if (err_fd >= 0) close(err_fd);
  reader_ = std::thread([this, fd = out_pipe[0]] { ReadLoop(fd); });
  if (stdin_text) {
    size_t off = 0;
    while (off < stdin_text->size()) {
      ssize_t n = write(in_pipe[1], stdin_text->data() + off, stdin_text->size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
  }
  close(in_pipe[1]);
}

Process::~Process() {
  if (running()) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
  if (reader_.joinable()) reader_.join();
}

void Process::ReadLoop(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mu_);
    if (n <= 0) {
      eof_ = true;
      cv_.notify_all();
      break;
    }
    out_.append(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
  close(fd);
}

std::optional<std::string> Process::WaitForLine(std::string_view needle,
                                                std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  std::optional<std::string> found;
  cv_.wait_for(lock, timeout, [&] {
    std::istringstream in(out_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find(needle) != std::string::npos && !in.eof()) {
        found = line;
        return true;
      }
    }
    return eof_;
  });
  return found;
}

std::string Process::Stdout() const {
  std::lock_guard lock(mu_);
  return out_;
}

std::string Process::StdoutToEof(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return eof_; });
  return out_;
}

void Process::Signal(int signo) {
  if (pid_ > 0 && !status_) kill(pid_, signo);
}

std::optional<int> Process::Stop(std::chrono::milliseconds grace) {
  Signal(SIGTERM);
  std::optional<int> code = Wait(grace);
  if (!code) {
    Signal(SIGKILL);
    Wait(std::chrono::seconds(10));
  }
  if (pid_ > 0) kill(-pid_, SIGKILL);
  return code;
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    usleep(5000);
  }
}

bool Process::running() { return pid_ > 0 && !Wait(std::chrono::milliseconds(0)); }

RunResult RunCommand(std::vector<std::string> argv, std::map<std::string, std::string> env,
              std::optional<std::string> stdin_text, std::chrono::milliseconds timeout) {
  TempDir dir;
  auto err_path = dir.path() / "stderr";
  RunResult result;
  {
    Process p(std::move(argv), std::move(env), err_path, std::move(stdin_text));
    auto code = p.Wait(timeout);
    result.exit_code = code.value_or(-1);
    if (!code) p.Signal(SIGKILL);
    p.Wait(std::chrono::seconds(5));
    result.out = p.StdoutToEof(std::chrono::seconds(5));
  }
  result.err = ReadFile(err_path);
  return result;
}

namespace {

// Binds a socket of type to 127.0.0.1:port (0 = any); returns the bound port, or 0.
uint16_t BindProbe(int type, uint16_t port) {
  int fd = ::socket(AF_INET, type, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  uint16_t bound = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    bound = ntohs(addr.sin_port);
  }
  ::close(fd);
  return bound;
}

}  // namespace

uint16_t LowestEphemeralPort() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned low = 0;
  if (in >> low && low > 0 && low <= 65535) return static_cast<uint16_t>(low);
  return 32768;
}

bool Eventually(const std::function<bool()>& fn, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return fn();
}

// A port picked now is bound later by another process, so it is picked
// below the kernel's ephemeral range: no client socket of a test running
// beside this one (a DNS query's source port, say) can take it meanwhile,
// as one did from a port picked by bind(0). Two tests picking the same
// port at random in ~12,000 is the remaining, much smaller, chance.
uint16_t PickFreePort(bool udp_too) {
  static std::mutex mu;
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(getpid()));
  const uint16_t ceiling = LowestEphemeralPort();
  const uint16_t floor = 20000;
  for (int attempt = 0; attempt < 200; ++attempt) {
    uint16_t port = 0;
    if (ceiling > floor + 1000) {
      std::lock_guard lock(mu);
      port = static_cast<uint16_t>(floor + rng() % (ceiling - floor));
    }
    port = BindProbe(SOCK_STREAM, port);
    if (port == 0) continue;
    if (!udp_too || BindProbe(SOCK_DGRAM, port) == port) return port;
  }
  throw std::runtime_error("no free port on 127.0.0.1");
}

bool AcceptsTcp(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string LogTail(const std::string& log, size_t n) {
  return log.size() <= n ? log : "..." + log.substr(log.size() - n);
}

std::string TailLines(const std::string& text, size_t n) {
  size_t pos = text.size();
  for (size_t lines = 0; lines <= n; ++lines) {
    if (pos == 0) return text;
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::filesystem::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

}  // namespace certgate::testing
