#include "edge/client_hello.h"

#include <string_view>

#include "names/domain_name.h"

namespace certgate::edge {

std::optional<std::string> ReadSni(SSL* ssl) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1 || len < 2) {
    return std::nullopt;
  }
  // ServerNameList: uint16 length, then (uint8 type, uint16 length, name)*.
  const size_t list_len = (size_t{p[0]} << 8) | p[1];
  if (list_len + 2 != len) return std::nullopt;
  for (size_t i = 2; i + 3 <= len;) {
    const unsigned type = p[i];
    const size_t n = (size_t{p[i + 1]} << 8) | p[i + 2];
    i += 3;
    if (i + n > len) return std::nullopt;
    if (type == 0) {
      return names::NormalizeSni(std::string_view(reinterpret_cast<const char*>(p + i), n));
    }
    i += n;
  }
  return std::nullopt;
}

}  // namespace certgate::edge
