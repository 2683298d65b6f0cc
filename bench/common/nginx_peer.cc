#include "common/nginx_peer.h"

#include <algorithm>

#include <fmt/format.h>
#include <unistd.h>

namespace certgate::bench {

std::unique_ptr<testing::Process> StartNginx(const TlsPeerSpec& spec) {
  const std::string dir = spec.dir.string();
  std::string servers;
  for (size_t i = 0; i < spec.names.size(); ++i) {
    servers += fmt::format(
        "  server {{\n    listen 127.0.0.1:{port} ssl{def};\n    server_name {name};\n"
        "    ssl_certificate {pem};\n    ssl_certificate_key {pem};\n"
        "    location / {{ return 200; }}\n  }}\n",
        fmt::arg("port", spec.port), fmt::arg("def", i == 0 ? " default_server" : ""),
        fmt::arg("name", spec.names[i]), fmt::arg("pem", spec.pem_files[i].string()));
  }
  const int names = static_cast<int>(spec.names.size());
  // As shipped but for what the comparison needs: one worker, TLS 1.2-1.3,
  // the group, a fixed 200 answer, no access log; session tickets at
  // OpenSSL's default; everything it writes inside its directory.
  testing::WriteFile(
      spec.dir / "nginx.conf",
      fmt::format(R"(worker_processes 1;
{user}pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
worker_rlimit_nofile {files};
events {{ worker_connections {maxconn}; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  keepalive_timeout 300s;
  keepalive_requests 1000000;
  server_names_hash_max_size {hash};
  server_names_hash_bucket_size 128;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ecdh_curve {group};
{tickets}{servers}}}
)",
                  fmt::arg("user", ::geteuid() == 0 ? "user root;\n" : ""), fmt::arg("dir", dir),
                  fmt::arg("files", 2 * spec.maxconn + 100), fmt::arg("maxconn", spec.maxconn),
                  fmt::arg("hash", std::max(512, 2 * names)), fmt::arg("group", spec.group),
                  fmt::arg("servers", servers),
                  fmt::arg("tickets", spec.no_tickets ? "  ssl_session_tickets off;\n"
                                                        "  ssl_session_cache off;\n"
                                                      : "")));
  return std::make_unique<testing::Process>(
      std::vector<std::string>{spec.binary, "-p", dir, "-e", dir + "/error.log", "-c",
                               dir + "/nginx.conf", "-g", "daemon off;"},
      testing::ProcessOptions{.stderr_path = spec.dir / "stderr.log",
                              .cwd = spec.dir,
                              .cpu = spec.cpu,
                              .default_sigpipe = true});
}

}  // namespace certgate::bench
