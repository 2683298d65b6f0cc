// Reading the ClientHello during a handshake (internal to the edge): the SNI
// name the edge selects a certificate and route by. Pure; callable from any
// thread, from inside an SSL_CTX client_hello callback.
#pragma once

#include <openssl/ssl.h>

#include <optional>
#include <string>

namespace certgate::edge {

// The host_name of the ClientHello's server_name extension, normalized
// (names::NormalizeSni); nullopt when absent or malformed. REQUIRES: called
// from a client_hello callback (SSL_client_hello_get0_ext).
std::optional<std::string> ReadSni(SSL* ssl);

}  // namespace certgate::edge
