#include "support/edge_peers.h"

#include <openssl/sha.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>

#include "http_client/exchange.h"
#include "support/process.h"

namespace certgate::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

void SetTimeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : md) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::string SerialHex(X509* cert) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  std::vector<unsigned char> bytes(static_cast<size_t>(BN_num_bytes(bn)));
  BN_bn2bin(bn, bytes.data());
  BN_free(bn);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out.empty() ? "00" : out;
}

}  // namespace

TestUpstream::TestUpstream() : acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  thread_ = std::thread([this] { AcceptLoop(); });
}

TestUpstream::~TestUpstream() {
  stopping_ = true;
  boost::system::error_code ec;
  // Wake the blocking accept with a connection of our own.
  tcp::socket poke(io_);
  poke.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
  thread_.join();
  std::lock_guard lock(mu_);
  for (auto& t : workers_) t.join();
}

void TestUpstream::AcceptLoop() {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket(io_);
    acceptor_.accept(socket, ec);
    if (stopping_) return;
    if (ec) continue;
    ++connections_;
    std::lock_guard lock(mu_);
    workers_.emplace_back([this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
  }
}

void TestUpstream::Serve(tcp::socket socket) {
  SetTimeouts(socket.native_handle(), 10);
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    boost::system::error_code ec;
    http::read(socket, buffer, parser, ec);
    if (ec) return;
    auto req = parser.release();
    auto target = boost::urls::parse_origin_form(req.target());
    std::string path = target ? std::string(target->path()) : "";

    if (path == "/ws" && websocket::is_upgrade(req)) {
      websocket::stream<tcp::socket> ws(std::move(socket));
      ws.accept(req, ec);
      if (ec) return;
      for (;;) {
        beast::flat_buffer message;
        ws.read(message, ec);
        if (ec) return;
        ws.text(ws.got_text());
        ws.write(message.data(), ec);
        if (ec) return;
      }
    }

    if (path == "/chunked") {
      int n = 3;
      if (target) {
        for (auto p : target->params()) {
          if (p.key == "n") n = std::stoi(std::string(p.value));
        }
      }
      http::response<http::empty_body> head{http::status::ok, req.version()};
      head.set(http::field::content_type, "text/plain");
      head.chunked(true);
      head.keep_alive(req.keep_alive());
      http::response_serializer<http::empty_body> sr{head};
      http::write_header(socket, sr, ec);
      if (ec) return;
      for (int i = 0; i < n; ++i) {
        std::string line = "chunk " + std::to_string(i) + "\n";
        net::write(socket, http::make_chunk(net::buffer(line)), ec);
        if (ec) return;
      }
      net::write(socket, http::make_chunk_last(), ec);
      if (ec || !req.keep_alive()) return;
      continue;
    }

    if (path == "/early-hints") {
      // n informational responses (default 2) before the final one.
      int n = 2;
      for (auto p : target->params()) {
        if (p.key == "n") n = std::stoi(std::string(p.value));
      }
      for (int i = 0; i < n && !ec; ++i) {
        std::string hint = "HTTP/1.1 103 Early Hints\r\nLink: </" + std::to_string(i) +
                           ".js>; rel=preload\r\n\r\n";
        net::write(socket, net::buffer(hint), ec);
      }
      if (ec) return;
    }
    boost::json::object headers;
    for (const auto& f : req) headers[std::string(f.name_string())] = std::string(f.value());
    boost::json::object body{{"method", std::string(req.method_string())},
                             {"target", std::string(req.target())},
                             {"headers", headers},
                             {"body_length", req.body().size()},
                             {"body_sha256", Sha256Hex(req.body())}};
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    res.body() = boost::json::serialize(body);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    http::write(socket, res, ec);
    if (ec || !req.keep_alive()) return;
  }
}

TcpEchoServer::TcpEchoServer()
    : acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  thread_ = std::thread([this] {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (stopping_) return;
      if (ec) continue;
      std::lock_guard lock(mu_);
      workers_.emplace_back([s = std::move(socket)]() mutable {
        SetTimeouts(s.native_handle(), 10);
        char buf[16384];
        for (;;) {
          boost::system::error_code rec;
          size_t n = s.read_some(net::buffer(buf), rec);
          if (rec) return;
          net::write(s, net::buffer(buf, n), rec);
          if (rec) return;
        }
      });
    }
  });
}

TcpEchoServer::~TcpEchoServer() {
  stopping_ = true;
  boost::system::error_code ec;
  tcp::socket poke(io_);
  poke.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
  thread_.join();
  std::lock_guard lock(mu_);
  for (auto& t : workers_) t.join();
}

std::unique_ptr<TlsClient> TlsClient::Connect(uint16_t port, const TlsClientOptions& options,
                                              std::string* error) {
  std::unique_ptr<TlsClient> c(new TlsClient());
  c->ctx_ = std::make_unique<ssl::context>(ssl::context::tls_client);
  c->ctx_->set_verify_mode(ssl::verify_none);
  if (options.max_version != 0) {
    SSL_CTX_set_max_proto_version(c->ctx_->native_handle(), options.max_version);
    if (options.max_version < TLS1_2_VERSION) {
      // Let the client offer old versions, so that a refusal is the server's.
      SSL_CTX_set_security_level(c->ctx_->native_handle(), 0);
      SSL_CTX_set_min_proto_version(c->ctx_->native_handle(), TLS1_VERSION);
    }
  }
  if (!options.client_cert_pem.empty()) {
    c->ctx_->use_certificate_chain(net::buffer(options.client_cert_pem));
    c->ctx_->use_private_key(net::buffer(options.client_key_pem), ssl::context::pem);
  }
  c->stream_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(c->io_, *c->ctx_);
  SSL* ssl = c->stream_->native_handle();
  if (!options.sni.empty()) {
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(options.sni.c_str()));
  }
  if (!options.alpn.empty()) {
    std::string wire;
    for (const auto& p : options.alpn) {
      wire += static_cast<char>(p.size());
      wire += p;
    }
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()),
                        static_cast<unsigned>(wire.size()));
  }
  boost::system::error_code ec;
  auto& socket = beast::get_lowest_layer(*c->stream_).socket();
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) {
    *error = "connect: " + ec.message();
    return nullptr;
  }
  SetTimeouts(socket.native_handle(), 10);
  c->stream_->handshake(ssl::stream_base::client, ec);
  if (ec) {
    *error = "handshake: " + ec.message();
    return nullptr;
  }
  // TLS 1.3 client authentication failures arrive after the handshake: read
  // nothing yet, but let callers see them on the first exchange.
  return c;
}

TlsClient::~TlsClient() {
  if (stream_) {
    boost::system::error_code ec;
    beast::get_lowest_layer(*stream_).socket().close(ec);
  }
}

std::string TlsClient::PeerSerial() {
  X509* cert = SSL_get0_peer_certificate(stream_->native_handle());
  return cert == nullptr ? "" : SerialHex(cert);
}

std::string TlsClient::PeerCommonName() {
  X509* cert = SSL_get0_peer_certificate(stream_->native_handle());
  if (cert == nullptr) return "";
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

std::string TlsClient::Alpn() {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(stream_->native_handle(), &p, &len);
  return std::string(reinterpret_cast<const char*>(p), len);
}

std::string TlsClient::Version() { return SSL_get_version(stream_->native_handle()); }

TlsClient::HttpReply TlsClient::Http(const std::string& method, const std::string& target,
                                     const std::string& host, const std::string& body) {
  http_client::HttpRequest request{.method = http::string_to_verb(method),
                                   .target = target,
                                   .headers = {{"Host", host}},
                                   .body = body,
                                   .limits = {.body = 64 * 1024 * 1024}};
  http_client::ExchangeResult result = http_client::Exchange(
      io_, *stream_, request, std::chrono::steady_clock::now() + std::chrono::seconds(10));
  HttpReply reply;
  if (!result.ok()) {
    reply.error = result.failure().Describe(host);
    return reply;
  }
  reply.status = result.response().status;
  reply.body = std::move(result).response().body;
  return reply;
}

bool TlsClient::Write(const std::string& data) {
  boost::system::error_code ec;
  net::write(*stream_, net::buffer(data), ec);
  return !ec;
}

std::string TlsClient::Read(size_t n) {
  std::string out(n, '\0');
  boost::system::error_code ec;
  size_t got = net::read(*stream_, net::buffer(out), ec);
  out.resize(got);
  return out;
}

std::optional<std::string> TlsClient::WebSocketEcho(const std::string& host,
                                                    const std::string& message) {
  websocket::stream<beast::ssl_stream<beast::tcp_stream>&> ws(*stream_);
  boost::system::error_code ec;
  ws.handshake(host, "/ws", ec);
  if (ec) return std::nullopt;
  ws.text(true);
  ws.write(net::buffer(message), ec);
  if (ec) return std::nullopt;
  beast::flat_buffer buffer;
  ws.read(buffer, ec);
  if (ec) return std::nullopt;
  return beast::buffers_to_string(buffer.data());
}

std::string OpensslServedSerial(uint16_t port, const std::string& sni) {
  std::vector<std::string> argv = {"/usr/bin/openssl", "s_client", "-connect",
                                   "127.0.0.1:" + std::to_string(port)};
  if (sni.empty()) {
    argv.push_back("-noservername");
  } else {
    argv.push_back("-servername");
    argv.push_back(sni);
  }
  RunResult handshake = RunCommand(argv, {}, std::string("Q\n"), std::chrono::seconds(20));
  size_t begin = handshake.out.find("-----BEGIN CERTIFICATE-----");
  size_t end = handshake.out.find("-----END CERTIFICATE-----");
  if (begin == std::string::npos || end == std::string::npos) {
    std::fprintf(stderr, "openssl s_client saw no certificate (exit %d):\n%s\n%s\n",
                 handshake.exit_code, handshake.out.c_str(), handshake.err.c_str());
    return "";
  }
  std::string pem = handshake.out.substr(begin, end + 25 - begin) + "\n";
  RunResult serial =
      RunCommand({"/usr/bin/openssl", "x509", "-noout", "-serial"}, {}, pem);
  // "serial=0ABC01\n"
  std::string s = serial.out.substr(serial.out.find('=') + 1);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace certgate::testing
