// The PostgreSQL cluster_bench's nodes share: tests/support/pg_test_cluster.sh
// `start` on a fresh /tmp dir (unix socket only, trust authentication), set
// for durability afterwards, since the script's defaults are for throw-away
// test data. The script's `watch` runs beside it with a pipe as its stdin
// whose only writer is this process: however this process ends, even
// killed, the server is stopped and its dir removed. One owner thread.
#pragma once

#include <string>

#include <sys/types.h>

namespace certgate::bench::cluster {

class BenchPostgres {
 public:
  // Starts the server; cpu >= 0 pins it, and so every backend it forks, to
  // that cpu. fsync: fsync and full_page_writes on (else off);
  // synchronous_commit and autovacuum are on either way. Throws
  // std::runtime_error with the script's output when it does not start.
  BenchPostgres(int cpu, bool fsync);
  // Stops the server and removes its dir (by closing the watcher's pipe).
  ~BenchPostgres();
  BenchPostgres(const BenchPostgres&) = delete;
  BenchPostgres& operator=(const BenchPostgres&) = delete;

  // Creates database name; its libpq conninfo, as --store takes it.
  std::string CreateDatabase(const std::string& name);
  // Runs sql with psql in database db; what it printed (-At). Throws when
  // psql fails.
  std::string Psql(const std::string& sql, const std::string& db = "postgres") const;
  // "PostgreSQL 15.6: fsync on, synchronous_commit on, ...", as the server
  // reports its settings.
  std::string Describe() const;
  // CPU seconds of the postmaster and its live children (backends that
  // exited are not counted): context for the phases.
  double CpuSeconds() const;

 private:
  void SetDurable(bool fsync);
  // Closes the watcher's pipe and waits until it has stopped the server.
  void StopWatcher();
  pid_t Postmaster() const;

  std::string dir_;
  pid_t watcher_ = -1;
  int watcher_pipe_ = -1;
};

}  // namespace certgate::bench::cluster
