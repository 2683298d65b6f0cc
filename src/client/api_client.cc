#include "client/api_client.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url.hpp>
#include <fmt/format.h>

#include <strings.h>

#include <cstdlib>

namespace certgate::client {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

// Writes req and reads the response; stream's lowest layer carries the deadline.
template <class Stream>
net::awaitable<Result<HttpResult>> Exchange(Stream& stream, http::request<http::string_body>& req,
                                            std::chrono::milliseconds timeout) {
  beast::get_lowest_layer(stream).expires_after(timeout);
  auto [wec, wn] = co_await http::async_write(stream, req, kUseTuple);
  if (wec) {
    co_return MakeError(ErrorCode::kIo, fmt::format("sending the request failed: {}", wec.message()));
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  beast::get_lowest_layer(stream).expires_after(timeout);
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kUseTuple);
  if (rec) {
    co_return MakeError(ErrorCode::kIo,
                        fmt::format("reading the response failed: {}", rec.message()));
  }
  auto res = parser.release();
  HttpResult out;
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  for (const auto& field : res) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  co_return out;
}

}  // namespace

std::string HttpResult::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
}

Result<ApiClient> ApiClient::Create(std::string_view base_url, std::string api_key,
                                    ClientOptions options) {
  auto url = boost::urls::parse_uri(base_url);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("the API URL '{}' is not an http:// or https:// URL", base_url));
  }
  ApiClient c;
  c.scheme_ = url->scheme();
  c.host_ = url->host_address();
  c.port_ = url->has_port() ? std::string(url->port()) : (c.scheme_ == "https" ? "443" : "80");
  c.prefix_ = url->path();
  while (!c.prefix_.empty() && c.prefix_.back() == '/') c.prefix_.pop_back();
  c.base_url_ = std::string(base_url);
  while (!c.base_url_.empty() && c.base_url_.back() == '/') c.base_url_.pop_back();
  c.api_key_ = std::move(api_key);
  c.options_ = std::move(options);
  if (c.options_.ca_file.empty()) {
    const char* env = std::getenv("CERTGATE_API_CA_FILE");
    if (env != nullptr) c.options_.ca_file = env;
  }
  return c;
}

Result<HttpResult> ApiClient::Send(http::verb method, std::string_view path_and_query,
                                   std::optional<std::string_view> body,
                                   const std::vector<std::pair<std::string, std::string>>& headers) const {
  net::io_context io;
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(host_, port_, ec);
  if (ec) {
    return MakeError(ErrorCode::kIo, fmt::format("cannot resolve {}: {}", host_, ec.message()));
  }

  http::request<http::string_body> req{method, prefix_ + std::string(path_and_query), 11};
  req.set(http::field::host, port_ == (scheme_ == "https" ? "443" : "80")
                                 ? host_
                                 : (host_.find(':') != std::string::npos
                                        ? "[" + host_ + "]:" + port_
                                        : host_ + ":" + port_));
  req.set(http::field::user_agent, "certgate-cli");
  req.set("Ngrok-Version", "2");
  req.set(http::field::accept, "application/json");
  if (!api_key_.empty()) req.set(http::field::authorization, "Bearer " + api_key_);
  for (const auto& [k, v] : headers) {
    if (v.empty()) {
      req.erase(k);  // lets tests send a request without one of the defaults
    } else {
      req.set(k, v);
    }
  }
  if (body) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(*body);
  }
  req.keep_alive(false);
  req.prepare_payload();

  auto connect_failed = [&](const beast::error_code& e) {
    return MakeError(ErrorCode::kIo, fmt::format("cannot connect to the API at {}: {}", base_url_,
                                                 e.message()));
  };

  Result<HttpResult> result = MakeError(ErrorCode::kIo, "the request did not run");
  if (scheme_ == "http") {
    beast::tcp_stream stream(io);
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
          stream.expires_after(options_.timeout);
          auto [cec, ep] = co_await stream.async_connect(endpoints, kUseTuple);
          if (cec) {
            result = connect_failed(cec);
            co_return;
          }
          result = co_await Exchange(stream, req, options_.timeout);
        },
        net::detached);
    io.run();
    return result;
  }

  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(ssl::verify_peer);
  if (options_.ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
  } else {
    ctx.load_verify_file(options_.ca_file, ec);
  }
  if (ec) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("cannot load CA certificates{}: {}",
                                 options_.ca_file.empty() ? "" : " from " + options_.ca_file,
                                 ec.message()));
  }
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  // SSL_set_tlsext_host_name without its C cast; SNI carries names only,
  // never an IP address (RFC 6066 section 3).
  net::ip::make_address(host_, ec);
  const bool ip_literal = !ec;
  ec.clear();
  if (!ip_literal &&
      SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(host_.c_str())) != 1) {
    return MakeError(ErrorCode::kIo, "cannot set the TLS server name");
  }
  stream.set_verify_callback(ssl::host_name_verification(host_));
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        auto& tcp_layer = beast::get_lowest_layer(stream);
        tcp_layer.expires_after(options_.timeout);
        auto [cec, ep] = co_await tcp_layer.async_connect(endpoints, kUseTuple);
        if (cec) {
          result = connect_failed(cec);
          co_return;
        }
        tcp_layer.expires_after(options_.timeout);
        auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kUseTuple);
        if (hec) {
          result = MakeError(ErrorCode::kIo, fmt::format("TLS handshake with {} failed: {}",
                                                         base_url_, hec.message()));
          co_return;
        }
        result = co_await Exchange(stream, req, options_.timeout);
      },
      net::detached);
  io.run();
  return result;
}

}  // namespace certgate::client
