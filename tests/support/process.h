// Child processes for integration tests: started with fork/exec, stdout
// captured line by line, stderr to a file, killed by process id when the
// object dies. Thread-safe for one owner plus the internal reader thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/testing/temp_dir.h"

namespace certgate::testing {

// How a Process starts, beyond its argv.
struct ProcessOptions {
  // Adds to (or overrides) this process's environment; a value of ""
  // removes the variable.
  std::map<std::string, std::string> env;
  // Where stderr goes (appended); empty: this process's own stderr.
  std::filesystem::path stderr_path;
  std::optional<std::string> stdin_text;
  // The child's working directory; empty: this process's.
  std::filesystem::path cwd;
  // Pins the child to this cpu (benchmarks measure one server per core).
  std::optional<int> cpu;
  // Starts the child with SIGPIPE's default action even when this process
  // ignores it (an ignored signal stays ignored across exec).
  bool default_sigpipe = false;
};

class Process {
 public:
  // argv[0] is the program path. env adds to (or overrides) the test's
  // environment; a value of "" removes the variable. stderr goes to
  // stderr_path when given, else to the test's own stderr.
  Process(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
          std::filesystem::path stderr_path = {}, std::optional<std::string> stdin_text = {});
  Process(std::vector<std::string> argv, ProcessOptions options);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Waits until a stdout line contains needle; returns that line.
  std::optional<std::string> WaitForLine(std::string_view needle,
                                         std::chrono::milliseconds timeout);
  // Everything printed to stdout so far.
  std::string Stdout() const;
  // Everything printed to stdout, once the child closed it (after its exit,
  // the pipe may still hold unread output). Gives up after timeout.
  std::string StdoutToEof(std::chrono::milliseconds timeout);
  void Signal(int signo);
  // SIGTERM, up to grace for the exit, then SIGKILL; either way SIGKILL to
  // what is left of its process group (a server's workers). Returns the exit
  // code as Wait does (nullopt when it had to be killed).
  std::optional<int> Stop(std::chrono::milliseconds grace);
  // Waits for exit; returns the exit code, 128+signal if killed, or nullopt
  // on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  void ReadLoop(int fd);
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string out_;
  bool eof_ = false;
};

// Runs a command to completion and returns {exit code, stdout}.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
RunResult RunCommand(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
              std::optional<std::string> stdin_text = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(60));


// The lowest port the kernel hands out by itself (bind to 0, a client's
// source port), from /proc; 32768 when that cannot be read. PickFreePort
// picks below it.
uint16_t LowestEphemeralPort();

// A port on 127.0.0.1 that was free for TCP (and UDP, when udp_too) a moment
// ago: for peers that must be told their port in advance. The kernel may hand
// it to someone else before the peer binds it, so starters retry on failure.
uint16_t PickFreePort(bool udp_too = false);

// Polls fn every 100 ms until it returns true or timeout passes; its last
// answer.
bool Eventually(const std::function<bool()>& fn, std::chrono::milliseconds timeout);

// True when something accepts TCP connections on 127.0.0.1:port.
bool AcceptsTcp(uint16_t port);

// The last n characters of a log, marked as cut when it was longer.
std::string LogTail(const std::string& log, size_t n = 3000);
// The last n lines of a text (all of it when it has fewer).
std::string TailLines(const std::string& text, size_t n);

std::string ReadFile(const std::filesystem::path& path);
void WriteFile(const std::filesystem::path& path, std::string_view data);

}  // namespace certgate::testing
