// One keep-alive HTTP/1.1 connection to certgate's API (plain http on
// 127.0.0.1), blocking, with the API key and JSON bodies: what a client that
// makes many changes in a row holds (the project's ApiClient opens a
// connection per request). Not thread-safe: one per client thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace certgate::bench::scale {

struct ApiResponse {
  int status = 0;
  std::string body;
};

class ApiConnection {
 public:
  // api_url: "http://127.0.0.1:<port>" as `certgate serve` prints it.
  // Connects at once; throws std::runtime_error when it cannot.
  ApiConnection(const std::string& api_url, std::string api_key);
  ~ApiConnection();
  ApiConnection(const ApiConnection&) = delete;
  ApiConnection& operator=(const ApiConnection&) = delete;

  // Sends one request and reads its whole response (Content-Length bodies).
  // Reconnects once when the server had closed the connection before the
  // request; throws std::runtime_error on any other failure.
  ApiResponse Send(std::string_view method, std::string_view path, std::string_view json_body = {});

  // POST /reserved_domains {"domain": name, "certificate_id": cert}; returns
  // the new domain's id, or throws with the response when it is not 201.
  std::string CreateDomain(std::string_view name, std::string_view certificate_id);
  // DELETE /reserved_domains/<id>; throws unless 204.
  void DeleteDomain(std::string_view id);
  // POST /tls_certificates; returns the certificate's id (throws unless 201).
  std::string UploadCertificate(std::string_view chain_pem, std::string_view key_pem);

 private:
  void Connect();
  bool TrySend(const std::string& request, ApiResponse& out, std::string& why);

  std::string host_;
  uint16_t port_ = 0;
  std::string api_key_;
  int fd_ = -1;
  std::string buffer_;  // bytes read past the last response
};

}  // namespace certgate::bench::scale
