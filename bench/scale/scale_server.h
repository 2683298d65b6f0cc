// The certgate servers scale_bench measures: a data directory per name
// count, prepared once (certificates uploaded through the API, names loaded
// directly into the store), and `certgate serve` on it, pinned to the server
// cpu with one edge worker and the authoritative DNS on, started as often as
// the rounds need.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include "common/interrupt_guard.h"
#include "scale/scale_options.h"
#include "scale/scale_pki.h"
#include "scale/tls_probe.h"
#include "support/certgate_server.h"

namespace certgate::bench::scale {

struct DataDir {
  int names = 0;
  bool distinct = false;                // each name has its own certificate (distinct_load.h)
  std::filesystem::path dir;            // the server's --data-dir is dir/data
  std::string api_key;                  // the first account's, printed at its first start
  std::string wildcard_id;              // *.bench.example, which every loaded name points at
  std::vector<std::string> change_ids;  // pki.changes, uploaded in order
  double load_s = 0;                    // the direct store load
  // The ids of the first loaded names (as many as --changes), which the
  // change bursts delete.
  std::vector<std::string> loaded_ids;
  // A handshake with SNI ready_name serves ready_serial once the server
  // serves its names (any certificate when ready_serial is empty).
  std::string ready_name;
  std::string ready_serial;
};

// Starts certgate once on a fresh data dir under dir, uploads pki's
// certificates through the API and stops it: a data dir without names.
DataDir PrepareEmptyDataDir(const Options& o, const ScalePki& pki,
                            const std::filesystem::path& dir);
// PrepareEmptyDataDir, then `names` domains on the wildcard loaded directly
// into its store (DirectStoreLoad).
DataDir PrepareDataDir(const Options& o, const ScalePki& pki, int names,
                       const std::filesystem::path& dir);

class ScaleServer {
 public:
  // Starts `certgate serve` on data and returns once a handshake with SNI
  // data.ready_name (the last loaded name) serves data.ready_serial: the
  // wildcard with names, the name's own certificate with distinct ones, the
  // default certificate without names. start_s is the time from launch to that handshake,
  // ready_s to the "certgate ready" line before it; start_cpu_s is the
  // server's CPU seconds until then (what the start cost, however busy the
  // machine was).
  static std::unique_ptr<ScaleServer> Start(const Options& o, const DataDir& data,
                                            const TlsProbe& probe);
  ~ScaleServer();

  const DataDir& data() const { return data_; }
  std::string label() const;
  pid_t pid() const;
  bool Alive() const;
  uint16_t https_port() const { return https_port_; }
  uint16_t dns_port() const { return dns_port_; }
  const std::string& api_url() const { return api_url_; }
  double start_s() const { return start_s_; }
  double ready_s() const { return ready_s_; }
  double start_cpu_s() const { return start_cpu_s_; }
  // SIGTERM, then SIGKILL after 20 s.
  void Stop();
  // Throws std::runtime_error with what and the tail of the server's log.
  [[noreturn]] void Failed(const std::string& what) const;

 private:
  explicit ScaleServer(const DataDir& data) : data_(data) {}
  const DataDir& data_;
  std::unique_ptr<testing::CertgateServer> certgate_;
  uint16_t https_port_ = 0;
  uint16_t dns_port_ = 0;
  std::string api_url_;
  double start_s_ = 0;
  double ready_s_ = 0;
  double start_cpu_s_ = 0;
  // Declared last: unregistered before the process goes.
  std::unique_ptr<KillOnInterrupt> guard_;
};

}  // namespace certgate::bench::scale
