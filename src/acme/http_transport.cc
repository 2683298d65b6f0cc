#include "acme/http_transport.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <strings.h>

#include <algorithm>
#include <cctype>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url.hpp>
#include <fmt/format.h>

namespace certgate::acme {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);
constexpr size_t kHeaderLimit = 64 * 1024;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool IsLoopbackHost(std::string_view host) {
  return host == "127.0.0.1" || host == "::1" || EqualsIgnoreCase(host, "localhost");
}

Error Unreachable(std::string_view what, std::string_view url, const beast::error_code& ec) {
  return MakeError(ErrorCode::kAcmeUnreachable,
                   fmt::format("{} {} failed: {}", what, url, ec.message()));
}

// Writes req, reads the response; the lowest layer's expiry is the deadline.
template <class Stream>
net::awaitable<Result<HttpResponse>> Exchange(Stream& stream, http::request<http::string_body>& req,
                                              size_t body_limit, std::string_view url) {
  auto [wec, wn] = co_await http::async_write(stream, req, kUseTuple);
  if (wec) co_return Unreachable("sending the request to", url, wec);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(body_limit);
  if (req.method() == http::verb::head) parser.skip(true);
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kUseTuple);
  if (rec == http::error::body_limit || rec == http::error::header_limit) {
    co_return MakeError(ErrorCode::kAcmeBadResponse,
                        fmt::format("the response from {} is larger than {} bytes", url,
                                    rec == http::error::body_limit ? body_limit : kHeaderLimit));
  }
  if (rec && rec.category() == http::make_error_code(http::error::bad_target).category() &&
      rec != http::error::end_of_stream && rec != http::error::partial_message) {
    // A parse error: the peer answered, but not with HTTP/1.1.
    co_return MakeError(ErrorCode::kAcmeBadResponse,
                        fmt::format("the response from {} is not valid HTTP: {}", url,
                                    rec.message()));
  }
  if (rec) co_return Unreachable("reading the response from", url, rec);
  auto res = parser.release();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  for (const auto& field : res) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  co_return out;
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

std::vector<std::string> HttpResponse::Headers(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) out.push_back(v);
  }
  return out;
}

std::string HttpResponse::MediaType() const {
  std::string type = Header("Content-Type");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return type;
}

std::vector<std::string> LinksWithRel(const HttpResponse& response, std::string_view rel) {
  std::vector<std::string> out;
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  for (const std::string& header : response.Headers("Link")) {
    std::string_view rest = header;
    for (;;) {
      auto open = rest.find('<');
      if (open == std::string_view::npos) break;
      auto close = rest.find('>', open);
      if (close == std::string_view::npos) break;
      std::string_view url = rest.substr(open + 1, close - open - 1);
      rest.remove_prefix(close + 1);
      // Parameters run to the next link ("," then "<") or the end.
      auto next = rest.find('<');
      std::string_view params = rest.substr(0, next);
      bool matches = false;
      while (!params.empty()) {
        auto semi = params.find(';');
        std::string_view param = trim(params.substr(0, semi));
        params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
        while (!param.empty() && param.back() == ',') param = trim(param.substr(0, param.size() - 1));
        if (param.size() < 4 || strncasecmp(param.data(), "rel=", 4) != 0) continue;
        std::string_view value = param.substr(4);
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
          value = value.substr(1, value.size() - 2);
        }
        while (!value.empty()) {  // a space-separated list of relation types
          auto space = value.find(' ');
          if (EqualsIgnoreCase(value.substr(0, space), rel)) matches = true;
          value = space == std::string_view::npos ? std::string_view() : value.substr(space + 1);
        }
      }
      if (matches) out.emplace_back(url);
      if (next == std::string_view::npos) break;
      rest.remove_prefix(next);
    }
  }
  return out;
}

Result<AcmeUrl> ParseAcmeUrl(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || parsed->host().empty() || parsed->has_userinfo()) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("'{}' is not an absolute http(s) URL with a host", url));
  }
  AcmeUrl out;
  out.host = parsed->host_address();
  if (parsed->scheme_id() == boost::urls::scheme::https) {
    out.tls = true;
  } else if (parsed->scheme_id() == boost::urls::scheme::http && IsLoopbackHost(out.host)) {
    out.tls = false;
  } else {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("refusing the ACME URL '{}': only https:// URLs are allowed "
                                 "(plain http:// only to 127.0.0.1, ::1 or localhost)",
                                 url));
  }
  out.port = parsed->has_port() ? std::string(parsed->port()) : (out.tls ? "443" : "80");
  out.target = std::string(parsed->encoded_target());
  if (out.target.empty()) out.target = "/";
  return out;
}

HttpTransport::HttpTransport(std::string user_agent, std::chrono::milliseconds timeout)
    : ssl_ctx_(ssl::context::tls_client), user_agent_(std::move(user_agent)), timeout_(timeout) {}

Result<std::unique_ptr<HttpTransport>> HttpTransport::Create(const std::string& ca_file,
                                                             std::string user_agent,
                                                             std::chrono::milliseconds timeout) {
  std::unique_ptr<HttpTransport> t(new HttpTransport(std::move(user_agent), timeout));
  beast::error_code ec;
  t->ssl_ctx_.set_verify_mode(ssl::verify_peer, ec);
  if (!ec) {
    if (ca_file.empty()) {
      t->ssl_ctx_.set_default_verify_paths(ec);
    } else {
      t->ssl_ctx_.load_verify_file(ca_file, ec);
    }
  }
  if (ec) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("cannot load the CA certificates for the ACME server{}: {}",
                                 ca_file.empty() ? "" : " from " + ca_file, ec.message()));
  }
  SSL_CTX_set_min_proto_version(t->ssl_ctx_.native_handle(), TLS1_2_VERSION);
  return t;
}

Result<HttpResponse> HttpTransport::Send(http::verb method, std::string_view url,
                                         std::string body, std::string_view content_type,
                                         size_t body_limit, std::string_view accept) const {
  CG_ASSIGN_OR_RETURN(AcmeUrl target, ParseAcmeUrl(url));
  const auto deadline = Clock::now() + timeout_;

  http::request<http::string_body> req{method, target.target, 11};
  bool default_port = target.port == (target.tls ? "443" : "80");
  std::string host_header =
      target.host.find(':') != std::string::npos ? "[" + target.host + "]" : target.host;
  if (!default_port) host_header += ":" + target.port;
  req.set(http::field::host, host_header);
  req.set(http::field::user_agent, user_agent_);
  req.set(http::field::accept_language, "en");
  if (!accept.empty()) req.set(http::field::accept, accept);
  if (!content_type.empty()) {
    req.set(http::field::content_type, content_type);
    req.body() = std::move(body);
  }
  req.keep_alive(false);
  req.prepare_payload();

  net::io_context io;
  Result<HttpResponse> result =
      MakeError(ErrorCode::kAcmeUnreachable, fmt::format("the request to {} did not run", url));

  // Resolves within the deadline (getaddrinfo has none of its own).
  auto resolve = [&]() -> net::awaitable<Result<tcp::resolver::results_type>> {
    tcp::resolver resolver(io);
    net::steady_timer timer(io, deadline);
    timer.async_wait([&](const beast::error_code& ec) {
      if (!ec) resolver.cancel();
    });
    auto [ec, results] =
        co_await resolver.async_resolve(target.host, target.port, kUseTuple);
    timer.cancel();
    if (ec) {
      co_return MakeError(ErrorCode::kAcmeUnreachable,
                          fmt::format("cannot resolve the ACME server {}: {}", target.host,
                                      ec == net::error::operation_aborted ? "timed out"
                                                                          : ec.message()));
    }
    co_return results;
  };

  if (!target.tls) {
    beast::tcp_stream stream(io);
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
          auto endpoints = co_await resolve();
          if (!endpoints.ok()) {
            result = std::move(endpoints).error();
            co_return;
          }
          stream.expires_at(deadline);
          auto [cec, ep] = co_await stream.async_connect(*endpoints, kUseTuple);
          if (cec) {
            result = Unreachable("connecting to", url, cec);
            co_return;
          }
          result = co_await Exchange(stream, req, body_limit, url);
        },
        net::detached);
    io.run();
    return result;
  }

  beast::ssl_stream<beast::tcp_stream> stream(io, ssl_ctx_);
  SSL* ssl_handle = stream.native_handle();
  beast::error_code addr_ec;
  net::ip::make_address(target.host, addr_ec);
  bool is_ip = !addr_ec;
  if (is_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), target.host.c_str()) != 1) {
      return MakeError(ErrorCode::kConfigInvalid,
                       fmt::format("cannot verify the ACME server address {}", target.host));
    }
  } else {
    // SSL_set_tlsext_host_name without its C cast; SNI only for names (RFC 6066).
    if (SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(target.host.c_str())) != 1 ||
        SSL_set1_host(ssl_handle, target.host.c_str()) != 1) {
      return MakeError(ErrorCode::kConfigInvalid,
                       fmt::format("cannot set the TLS server name {}", target.host));
    }
  }
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        auto endpoints = co_await resolve();
        if (!endpoints.ok()) {
          result = std::move(endpoints).error();
          co_return;
        }
        auto& tcp_layer = beast::get_lowest_layer(stream);
        tcp_layer.expires_at(deadline);
        auto [cec, ep] = co_await tcp_layer.async_connect(*endpoints, kUseTuple);
        if (cec) {
          result = Unreachable("connecting to", url, cec);
          co_return;
        }
        auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kUseTuple);
        if (hec) {
          result = Unreachable("the TLS handshake with", url, hec);
          co_return;
        }
        result = co_await Exchange(stream, req, body_limit, url);
        // No TLS shutdown: the response is complete and the connection is
        // not reused; waiting for close_notify would only add latency.
      },
      net::detached);
  io.run();
  return result;
}

}  // namespace certgate::acme
