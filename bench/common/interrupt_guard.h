// ^C during a benchmark: the servers it started must not outlive it (nginx's
// worker would, holding its port). KillOnInterrupt registers a child's
// process group; the handler InstallInterruptHandler sets up kills every
// registered group on SIGINT, SIGTERM or SIGHUP, then lets the signal end
// this program.
#pragma once

#include <sys/types.h>

namespace certgate::bench {

void InstallInterruptHandler();

// Registered from construction to destruction; holds no process itself.
// Destroy it before the process is reaped, so no stale id stays registered.
class KillOnInterrupt {
 public:
  explicit KillOnInterrupt(pid_t pid);
  ~KillOnInterrupt();
  KillOnInterrupt(const KillOnInterrupt&) = delete;
  KillOnInterrupt& operator=(const KillOnInterrupt&) = delete;

 private:
  pid_t pid_;
};

}  // namespace certgate::bench
