#include "common/interrupt_guard.h"

#include <atomic>

#include <signal.h>

namespace certgate::bench {
namespace {

constexpr int kMaxChildren = 64;
std::atomic<pid_t> g_children[kMaxChildren];

void OnSignal(int sig) {
  for (auto& slot : g_children) {
    pid_t pid = slot.load();
    if (pid > 0) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
    }
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

void InstallInterruptHandler() {
  struct sigaction sa {};
  sa.sa_handler = &OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

KillOnInterrupt::KillOnInterrupt(pid_t pid) : pid_(pid) {
  for (auto& slot : g_children) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pid)) return;
  }
}

KillOnInterrupt::~KillOnInterrupt() {
  for (auto& slot : g_children) {
    pid_t expected = pid_;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

}  // namespace certgate::bench
