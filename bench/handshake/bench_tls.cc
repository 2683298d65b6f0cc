#include "handshake/bench_tls.h"

#include <openssl/err.h>

namespace certgate::bench::handshake {

std::string OpensslErrors() {
  std::string out;
  unsigned long e = 0;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error" : out;
}

}  // namespace certgate::bench::handshake
