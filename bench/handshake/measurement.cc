#include "handshake/measurement.h"

#include <chrono>
#include <thread>

#include "common/proc_stats.h"
#include "common/progress.h"

namespace certgate::bench::handshake {

Sample Measure(Server& s, LoadGenerator& load, const LoadSpec& spec) {
  s.Refresh();
  const double before = CpuSeconds(s.procs);
  LoadResult r = load.Run(spec);
  // The server's last closes (nginx's lingering close) land after the client is done.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const double after = CpuSeconds(s.procs);
  if (!s.Alive()) ServerFailed(s, "exited under load");
  Sample out;
  out.cpu_s = after - before;
  out.ok = r.ok;
  out.failed = r.failed;
  out.wall_s = r.wall_s;
  out.tickets = r.tickets;
  out.wrong = r.wrong_certificate;
  out.status_other = r.status_other;
  if (r.failed > 0 || r.wrong_certificate > 0 || r.status_other > 0) {
    Progress("  warning: {}: {} failed, {} wrong certificate, {} unexpected responses; first: {}",
             s.label, r.failed, r.wrong_certificate, r.status_other, r.first_error);
  }
  if (r.ok == 0) ServerFailed(s, "no connection succeeded: " + r.first_error);
  return out;
}

}  // namespace certgate::bench::handshake
