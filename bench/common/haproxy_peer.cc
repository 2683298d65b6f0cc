#include "common/haproxy_peer.h"

#include <fmt/format.h>

namespace certgate::bench {

std::unique_ptr<testing::Process> StartHaproxy(const TlsPeerSpec& spec) {
  const std::string dir = spec.dir.string();
  std::string list;
  for (const auto& pem : spec.pem_files) list += pem.string() + "\n";
  testing::WriteFile(spec.dir / "crt-list.txt", list);
  // As shipped but for what the comparison needs: one thread, TLS 1.2-1.3,
  // the group, a fixed 200 answer; session tickets at OpenSSL's default.
  testing::WriteFile(
      spec.dir / "haproxy.cfg",
      fmt::format(R"(global
  nbthread 1
  maxconn {maxconn}
  stats socket {dir}/admin.sock mode 600 level admin
{cache}defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 30s
  timeout http-request 30s
  timeout http-keep-alive 300s
frontend bench
  maxconn {maxconn}
  bind 127.0.0.1:{port} ssl crt-list {dir}/crt-list.txt ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3 curves {group}{tickets}
  http-request return status 200
)",
                  fmt::arg("maxconn", spec.maxconn), fmt::arg("dir", dir),
                  fmt::arg("port", spec.port), fmt::arg("group", spec.group),
                  fmt::arg("cache", spec.no_tickets ? "  tune.ssl.cachesize 0\n" : ""),
                  fmt::arg("tickets", spec.no_tickets ? " no-tls-tickets" : "")));
  return std::make_unique<testing::Process>(
      std::vector<std::string>{spec.binary, "-db", "-f", dir + "/haproxy.cfg"},
      testing::ProcessOptions{.stderr_path = spec.dir / "stderr.log",
                              .cwd = spec.dir,
                              .cpu = spec.cpu,
                              .default_sigpipe = true});
}

}  // namespace certgate::bench
