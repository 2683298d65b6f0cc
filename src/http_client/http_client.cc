#include "http_client/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>

#include "http_client/exchange.h"

namespace certgate::http_client {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

struct Deadlines {
  SteadyTime connect;  // resolve and TCP connect
  SteadyTime exchange;
};

// Resolves within the connect deadline (getaddrinfo has none of its own).
net::awaitable<std::optional<HttpFailure>> Resolve(net::io_context& io, const HttpOrigin& origin,
                                                   SteadyTime deadline,
                                                   tcp::resolver::results_type& endpoints) {
  tcp::resolver resolver(io);
  net::steady_timer timer(io, deadline);
  timer.async_wait([&](const beast::error_code& ec) {
    if (!ec) resolver.cancel();
  });
  auto [ec, results] = co_await resolver.async_resolve(origin.host, origin.port, kUseTuple);
  timer.cancel();
  if (ec == net::error::operation_aborted) {
    co_return HttpFailure{.stage = HttpFailureStage::kResolve, .cause = "timed out",
                          .timed_out = true};
  }
  if (ec) co_return HttpFailure{.stage = HttpFailureStage::kResolve, .cause = ec.message()};
  endpoints = std::move(results);
  co_return std::nullopt;
}

net::awaitable<std::optional<HttpFailure>> Connect(net::io_context& io, beast::tcp_stream& stream,
                                                   const HttpOrigin& origin,
                                                   const Deadlines& deadlines) {
  tcp::resolver::results_type endpoints;
  if (auto failure = co_await Resolve(io, origin, deadlines.connect, endpoints)) {
    co_return failure;
  }
  stream.expires_at(deadlines.connect);
  auto [ec, endpoint] = co_await stream.async_connect(endpoints, kUseTuple);
  if (ec) {
    co_return HttpFailure{.stage = HttpFailureStage::kConnect, .cause = ec.message(),
                          .timed_out = ec == beast::error::timeout};
  }
  co_return std::nullopt;
}

// Names the server the handshake must find in the certificate: an IP literal
// as an IP-address SAN, a DNS name as a DNS SAN and as SNI.
std::optional<HttpFailure> ExpectServer(TlsStream& stream, const std::string& host) {
  SSL* ssl_handle = stream.native_handle();
  beast::error_code addr_ec;
  net::ip::make_address(host, addr_ec);
  if (!addr_ec) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), host.c_str()) != 1) {
      return HttpFailure{.stage = HttpFailureStage::kSetup,
                         .cause = fmt::format("cannot verify the server address {}", host)};
    }
    return std::nullopt;
  }
  // SSL_set_tlsext_host_name without its C cast.
  if (SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(host.c_str())) != 1 ||
      SSL_set1_host(ssl_handle, host.c_str()) != 1) {
    return HttpFailure{.stage = HttpFailureStage::kSetup,
                       .cause = fmt::format("cannot set the TLS server name {}", host)};
  }
  return std::nullopt;
}

// Host first, the caller's fields, then Connection: close (one exchange per
// connection).
HttpRequest WithConnectionFields(const HttpOrigin& origin, const HttpRequest& request) {
  HttpRequest out = request;
  out.headers.clear();
  out.headers.reserve(request.headers.size() + 2);
  out.headers.emplace_back("Host", origin.HostHeader());
  out.headers.insert(out.headers.end(), request.headers.begin(), request.headers.end());
  out.headers.emplace_back("Connection", "close");
  return out;
}

}  // namespace

std::string HttpOrigin::HostHeader() const {
  std::string header = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? "443" : "80")) header += ":" + port;
  return header;
}

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<HttpClient>> HttpClient::Create(HttpClientOptions options) {
  if (options.timeout <= std::chrono::milliseconds(0)) {
    return MakeError(ErrorCode::kConfigInvalid, "the HTTP timeout must be positive");
  }
  std::unique_ptr<HttpClient> client(new HttpClient(std::move(options)));
  if (!client->options_.tls) return client;
  const std::string& ca_file = client->options_.tls->ca_file;
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  beast::error_code ec;
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (!ec) {
    if (ca_file.empty()) {
      ctx->set_default_verify_paths(ec);
    } else {
      ctx->load_verify_file(ca_file, ec);
    }
  }
  if (ec) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("cannot load CA certificates{}: {}",
                                 ca_file.empty() ? "" : " from " + ca_file, ec.message()));
  }
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  client->ssl_ctx_ = std::move(ctx);
  return client;
}

ExchangeResult HttpClient::Send(const HttpOrigin& origin, const HttpRequest& request) const {
  const SteadyTime start = Clock::now();
  Deadlines deadlines{.connect = start + options_.timeout, .exchange = start + options_.timeout};
  if (options_.connect_timeout > std::chrono::milliseconds(0)) {
    deadlines.connect = std::min(deadlines.connect, start + options_.connect_timeout);
  }
  const HttpRequest full_request = WithConnectionFields(origin, request);
  net::io_context io;
  std::optional<ExchangeResult> result;

  if (!origin.tls) {
    beast::tcp_stream stream(io);
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
          if (auto failure = co_await Connect(io, stream, origin, deadlines)) {
            result = std::move(*failure);
            co_return;
          }
          result = co_await AsyncExchange(stream, full_request, deadlines.exchange);
        },
        net::detached);
    io.run();
  } else {
    if (!ssl_ctx_) {
      return HttpFailure{.stage = HttpFailureStage::kSetup,
                         .cause = "this client is configured for plain HTTP only"};
    }
    TlsStream stream(io, *ssl_ctx_);
    if (auto failure = ExpectServer(stream, origin.host)) return std::move(*failure);
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
          auto& tcp_layer = beast::get_lowest_layer(stream);
          if (auto failure = co_await Connect(io, tcp_layer, origin, deadlines)) {
            result = std::move(*failure);
            co_return;
          }
          tcp_layer.expires_at(deadlines.exchange);
          auto [ec] = co_await stream.async_handshake(ssl::stream_base::client, kUseTuple);
          if (ec) {
            result = HttpFailure{.stage = HttpFailureStage::kTlsHandshake, .cause = ec.message(),
                                 .timed_out = ec == beast::error::timeout};
            co_return;
          }
          result = co_await AsyncExchange(stream, full_request, deadlines.exchange);
          // No TLS shutdown: the response is complete and the connection is
          // not reused; waiting for close_notify would only add latency.
        },
        net::detached);
    io.run();
  }
  if (!result) {
    return HttpFailure{.stage = HttpFailureStage::kConnect, .cause = "the exchange did not run"};
  }
  return std::move(*result);
}

}  // namespace certgate::http_client
