#include "acme/stage.h"

#include <csignal>
#include <stdexcept>
#include <thread>

namespace certgate::bench::acme {
namespace {

volatile std::sig_atomic_t g_stop = 0;

}  // namespace

void AddProblem(StageResult& r, std::string text) {
  constexpr size_t kMax = 8;
  if (r.problems.size() < kMax) {
    r.problems.push_back(std::move(text));
  } else if (r.problems.size() == kMax) {
    r.problems.push_back("(more problems left out)");
  }
}

void RequestStop() { g_stop = 1; }

bool StopRequested() { return g_stop != 0; }

void CheckStop() {
  if (g_stop) throw std::runtime_error("interrupted");
}

void SleepFor(std::chrono::milliseconds d) {
  std::this_thread::sleep_for(d);
  CheckStop();
}

std::map<std::string, std::string> NoProxyEnv() {
  std::map<std::string, std::string> env;
  for (const char* k : {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY",
                        "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}) {
    env[k] = "";
  }
  return env;
}

size_t CountOccurrences(const std::string& text, std::string_view needle) {
  size_t count = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++count;
  }
  return count;
}

}  // namespace certgate::bench::acme
