// ApiTls: the API's TLS server credentials, loaded from a PEM certificate
// chain file and a PEM private key file, and reloadable (SIGHUP) without a
// restart. A reload that fails keeps the credentials already loaded. Or
// credentials held in memory (--api-domain: a certificate certgate manages),
// replaced with Use.
//
// The posture is the edge's: pki/tls_posture.h.
//
// Thread-safe: Current and Reload may be called from any thread.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <mutex>
#include <string>

#include "core/result.h"
#include "pki/certificate.h"

namespace certgate::api {

// The Strict-Transport-Security value sent on every response over TLS.
inline constexpr char kHstsValue[] = "max-age=31536000";

class ApiTls {
 public:
  // Loads both files. Error kConfigInvalid naming the file and what is wrong
  // with it (unreadable, not PEM, key not matching the certificate).
  static Result<std::unique_ptr<ApiTls>> Load(std::string cert_file, std::string key_file);
  // Credentials in memory: the chain (leaf first) and its key. Error
  // kConfigInvalid when the key is not the leaf's.
  static Result<std::unique_ptr<ApiTls>> FromChain(const pki::Chain& chain, EVP_PKEY* key);

  // Reads both files again. On success the new credentials serve every
  // handshake from now on (connections already open keep theirs); on
  // failure the old ones stay and the error says why. Credentials from
  // FromChain have no files: an error says so.
  Result<void> Reload();
  // Serves chain and key from now on, as Reload would.
  Result<void> Use(const pki::Chain& chain, EVP_PKEY* key);

  // The context new connections handshake with. Never null.
  std::shared_ptr<boost::asio::ssl::context> Current() const;
  // "serial 0a1b..., subject CN=..., expires 2026-..." of the current leaf.
  std::string Describe() const;

 private:
  ApiTls(std::string cert_file, std::string key_file)
      : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}

  const std::string cert_file_;
  const std::string key_file_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;
  std::string description_;
};

}  // namespace certgate::api
