// Peers for edge tests, all on 127.0.0.1 with ports the kernel picks:
// an HTTP/WebSocket upstream, a TCP echo upstream, and an in-process TLS
// client that reports what the edge presented.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace certgate::testing {

// An HTTP/1.1 upstream (keep-alive):
//   any method on /echo      200 JSON {"method", "target", "headers": {...},
//                            "body_length", "body_sha256"}
//   GET /chunked?n=K         200 with a chunked body of K lines "chunk <i>\n"
//   GET /ws (Upgrade)        a WebSocket that echoes every message
//   GET /early-hints?n=K     K (default 2) 103 Early Hints responses, then
//                            /echo's 200
class TestUpstream {
 public:
  TestUpstream();
  ~TestUpstream();
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }

 private:
  void AcceptLoop();
  void Serve(boost::asio::ip::tcp::socket socket);
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
};

// A TCP server that echoes every byte back, for tls endpoints.
class TcpEchoServer {
 public:
  TcpEchoServer();
  ~TcpEchoServer();
  uint16_t port() const { return port_; }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
};

struct TlsClientOptions {
  std::string sni;             // empty: send no SNI
  std::string client_cert_pem;  // with client_key_pem: present a client certificate
  std::string client_key_pem;
  std::vector<std::string> alpn;
  int max_version = 0;  // e.g. TLS1_2_VERSION to force 1.2
};

// A blocking TLS client connection to 127.0.0.1:port (no server
// verification: the tests check what was presented instead).
class TlsClient {
 public:
  // nullptr with *error set when the TCP connect or the handshake fails.
  static std::unique_ptr<TlsClient> Connect(uint16_t port, const TlsClientOptions& options,
                                            std::string* error);
  ~TlsClient();

  // The presented leaf's serial as the API prints it (lower-case hex).
  std::string PeerSerial();
  std::string PeerCommonName();
  std::string Alpn();
  std::string Version();

  // One HTTP/1.1 request on this connection (keep-alive), within 10 s;
  // returns status and body, or status 0 on a transport error.
  struct HttpReply {
    int status = 0;
    std::string body;
    std::string error;
  };
  HttpReply Http(const std::string& method, const std::string& target, const std::string& host,
                 const std::string& body = "");
  // Raw bytes (for tls endpoints).
  bool Write(const std::string& data);
  std::string Read(size_t n);  // exactly n bytes, or what came before an error

  // WebSocket on this connection: upgrades, sends, returns the echo.
  std::optional<std::string> WebSocketEcho(const std::string& host, const std::string& message);

  boost::beast::ssl_stream<boost::beast::tcp_stream>& stream() { return *stream_; }

 private:
  TlsClient() = default;
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::ssl::context> ctx_;
  std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> stream_;
};

// The serial (lower-case hex) of the certificate the server at port
// presents for sni, as `openssl s_client -servername` sees it; "" when the
// handshake fails. sni empty: no SNI (-noservername).
std::string OpensslServedSerial(uint16_t port, const std::string& sni);

}  // namespace certgate::testing
