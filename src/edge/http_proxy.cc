#include "edge/http_proxy.h"

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "edge/upstream_stream.h"
#include "edge/watchdog.h"
#include "http1/request_head.h"
#include "names/domain_name.h"

namespace certgate::edge {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using error_code = boost::system::error_code;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);
constexpr size_t kRelayChunk = 16 * 1024;
constexpr size_t kMaxDiscardedBody = 1024 * 1024;
// Informational responses relayed before an upstream's final one, at most.
constexpr int kMaxInterimResponses = 16;

void ShutdownSocket(tcp::socket& s) {
  error_code ignored;
  s.shutdown(tcp::socket::shutdown_both, ignored);
}

// Writes a small complete response with a text body.
template <class Stream>
net::awaitable<error_code> WriteText(Stream& out, unsigned version, http::status status,
                                     std::string body, bool keep_alive,
                                     std::string_view location = {}) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::server, "certgate");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  if (!location.empty()) res.set(http::field::location, location);
  res.body() = std::move(body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  // A last response waits for Close, to leave with close_notify.
  if constexpr (std::is_same_v<Stream, TlsStream>) out.HoldWrites(!keep_alive);
  auto [ec, n] = co_await http::async_write(out, res, kUseTuple);
  co_return ec;
}

// Moves one message from in to out, header (already read into p) first, the
// body in chunks as it arrives. The serializer keeps the message's framing:
// a chunked body stays chunked, a sized one stays sized.
template <bool isRequest, class In, class Out>
net::awaitable<error_code> Relay(In& in, beast::flat_buffer& in_buffer,
                                 http::parser<isRequest, http::buffer_body>& p, Out& out,
                                 Watchdog& dog, std::chrono::steady_clock::duration timeout) {
  http::serializer<isRequest, http::buffer_body> sr{p.get()};
  std::unique_ptr<char[]> chunk;
  do {
    if (!p.is_done()) {
      if (!chunk) chunk.reset(new char[kRelayChunk]);
      p.get().body().data = chunk.get();
      p.get().body().size = kRelayChunk;
      dog.Arm(timeout);
      auto [ec, n] = co_await http::async_read(in, in_buffer, p, kUseTuple);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return ec;
      p.get().body().size = kRelayChunk - p.get().body().size;
      p.get().body().data = chunk.get();
      p.get().body().more = !p.is_done();
    } else {
      p.get().body().data = nullptr;
      p.get().body().size = 0;
      p.get().body().more = false;
    }
    dog.Arm(timeout);
    auto [ec, n] = co_await http::async_write(out, sr, kUseTuple);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return ec;
  } while (!p.is_done() && !sr.is_done());
  co_return error_code{};
}

// Copies bytes from in to out until in ends, then half-closes out.
template <class In, class Out>
net::awaitable<void> Pump(In& in, Out& out, Watchdog& dog,
                          std::chrono::steady_clock::duration timeout,
                          const std::function<void()>& done_sending) {
  std::unique_ptr<char[]> buf(new char[kRelayChunk]);
  for (;;) {
    dog.Arm(timeout);
    auto [ec, n] = co_await in.async_read_some(net::buffer(buf.get(), kRelayChunk), kUseTuple);
    if (ec || n == 0) break;
    dog.Arm(timeout);
    auto [wec, wn] = co_await net::async_write(out, net::buffer(buf.get(), n), kUseTuple);
    if (wec) break;
  }
  done_sending();
}

// Both directions at once, until both have ended.
template <class A, class B>
net::awaitable<void> Splice(A& a, B& b, Watchdog& dog, std::chrono::steady_clock::duration timeout,
                            std::function<void()> a_done, std::function<void()> b_done) {
  using namespace net::experimental::awaitable_operators;
  co_await (Pump(a, b, dog, timeout, b_done) && Pump(b, a, dog, timeout, a_done));
}

bool HasToken(std::string_view header, std::string_view token) {
  for (auto t : http::token_list(header)) {
    if (beast::iequals(t, token)) return true;
  }
  return false;
}

bool IsUpgrade(const http::request_header<>& req) {
  return HasToken(req[http::field::connection], "upgrade") && !req[http::field::upgrade].empty();
}

// Drops headers that describe this hop, not the message.
template <class Fields>
void StripHopByHop(Fields& f, bool keep_upgrade) {
  // Headers named in Connection are hop-by-hop too.
  std::vector<std::string> named;
  for (auto t : http::token_list(f[http::field::connection])) {
    if (!beast::iequals(t, "upgrade") && !beast::iequals(t, "close") &&
        !beast::iequals(t, "keep-alive")) {
      named.emplace_back(t);
    }
  }
  for (const auto& n : named) f.erase(n);
  f.erase(http::field::keep_alive);
  f.erase(http::field::proxy_connection);
  f.erase(http::field::te);
  f.erase(http::field::trailer);
  if (!keep_upgrade) {
    f.erase(http::field::upgrade);
    f.erase(http::field::connection);
  }
}

void AddForwardedHeaders(http::request_header<>& req, const std::string& ip) {
  std::string_view prior = req["X-Forwarded-For"];
  req.set("X-Forwarded-For", prior.empty() ? ip : std::string(prior) + ", " + ip);
  req.set("X-Forwarded-Proto", "https");
  std::string_view host = req[http::field::host];
  if (!host.empty()) req.set("X-Forwarded-Host", host);
}

// Reads and drops a request body (for requests answered without an
// upstream). False if it is too large or broken: close the connection.
template <class Stream>
net::awaitable<bool> DiscardBody(Stream& s, beast::flat_buffer& buffer,
                                 http::request_parser<http::buffer_body>& p, Watchdog& dog,
                                 std::chrono::steady_clock::duration timeout) {
  std::array<char, 4096> sink;
  size_t total = 0;
  while (!p.is_done()) {
    p.get().body().data = sink.data();
    p.get().body().size = sink.size();
    dog.Arm(timeout);
    auto [ec, n] = co_await http::async_read(s, buffer, p, kUseTuple);
    if (ec && ec != http::error::need_buffer) co_return false;
    total += sink.size() - p.get().body().size;
    if (total > kMaxDiscardedBody) co_return false;
  }
  co_return true;
}

// The status and message for a request that could not be read.
std::optional<std::pair<http::status, std::string>> ReadFailure(const error_code& ec) {
  if (ec.category() == http1::HeadCategory()) {
    return std::pair{http::status::bad_request, ec.message() + "\n"};
  }
  if (ec == http::error::header_limit) {
    return std::pair{http::status::request_header_fields_too_large,
                     std::string("request headers too large\n")};
  }
  if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return std::pair{http::status::bad_request, std::string("malformed request\n")};
  }
  return std::nullopt;
}

}  // namespace

namespace {

// One turn of an HTTPS connection: from the first request read to the
// connection going idle. The per-request state (parsers, serializers,
// relay buffers) lives in ServeOneRequest's frame only while a request is
// in flight.
struct HttpsSession {
  HttpsSession(HttpsConnection& c, const ProxyEnv& e)
      : client(c.client),
        route(c.route),
        upstream(c.upstream),
        upstream_buffer(c.upstream_buffer),
        env(e),
        dog(c.client.get_executor(), [this] {
          if (reading_body) {
            // Only the client's receiving side: the read fails, and a 408
            // can still be sent.
            error_code ignored;
            client.socket().shutdown(tcp::socket::shutdown_receive, ignored);
          } else {
            ShutdownSocket(client.socket());
          }
          if (upstream) ShutdownSocket(upstream->socket());
        }) {}
  // The client's address, for X-Forwarded-For; asked of the socket once,
  // when a request is first proxied.
  const std::string& RemoteIp() {
    if (remote_ip.empty()) {
      error_code ec;
      tcp::endpoint remote = client.socket().remote_endpoint(ec);
      remote_ip = ec ? "unknown" : remote.address().to_string();
    }
    return remote_ip;
  }
  TlsStream& client;
  const Route* route;
  std::unique_ptr<UpstreamStream>& upstream;
  beast::flat_buffer& upstream_buffer;
  std::string remote_ip;
  const ProxyEnv& env;
  beast::flat_buffer client_buffer;
  // While a request's body is read: a timeout is answered 408.
  bool reading_body = false;
  Watchdog dog;
};

// A request whose body did not arrive within the timeout.
net::awaitable<void> AnswerBodyTimeout(TlsStream& client, unsigned version) {
  co_await WriteText(client, version, http::status::request_timeout,
                     "the request's body did not arrive in time\n", false);
}

// Reads one request and answers it (through the upstream, or 404 without a
// route). True if the connection stays open for another request.
net::awaitable<bool> ServeOneRequest(HttpsSession& s) {
  TlsStream& client = s.client;
  const HttpLimits& limits = s.env.limits;
  Watchdog& dog = s.dog;
  http::request_parser<http::buffer_body> req_p;
  req_p.header_limit(static_cast<uint32_t>(limits.header_limit));
  req_p.body_limit(boost::none);  // bodies are streamed, never held
  dog.Arm(limits.io_timeout);
  const error_code rec =
      co_await http1::ReadRequestHead(client, s.client_buffer, req_p, limits.header_limit);
  if (rec) {
    if (auto failure = ReadFailure(rec)) {
      co_await WriteText(client, 11, failure->first, failure->second, false);
    }
    co_return false;
  }
  auto& req = req_p.get();
  const unsigned client_version = req.version();
  const bool client_keep_alive = req.keep_alive();

  const bool expects_continue = beast::iequals(req[http::field::expect], "100-continue");
  if (s.route == nullptr) {
    std::string host(req[http::field::host]);
    if (expects_continue && !req_p.is_done()) {
      // The final answer instead of 100 Continue: the body is not wanted.
      dog.Arm(limits.io_timeout);
      co_await WriteText(client, client_version, http::status::not_found,
                         fmt::format("no endpoint serves {}\n", host.substr(0, 255)), false);
      co_return false;
    }
    s.reading_body = true;
    const bool drained =
        co_await DiscardBody(client, s.client_buffer, req_p, dog, limits.io_timeout);
    s.reading_body = false;
    if (!drained && dog.expired()) {
      co_await AnswerBodyTimeout(client, client_version);
      co_return false;
    }
    const bool keep = client_keep_alive && drained;
    dog.Arm(limits.io_timeout);
    auto wec =
        co_await WriteText(client, client_version, http::status::not_found,
                           fmt::format("no endpoint serves {}\n", host.substr(0, 255)), keep);
    co_return !wec && keep;
  }
  const Route& route = *s.route;

  const bool upgrade = IsUpgrade(req);
  if (expects_continue) {
    // Answer it here, so the client sends its body without waiting on an
    // upstream that may not know Expect; the upstream never sees it.
    req.erase(http::field::expect);
    if (!req_p.is_done()) {
      http::response<http::empty_body> cont{http::status::continue_, 11};
      dog.Arm(limits.io_timeout);
      auto [cec, cn] = co_await http::async_write(client, cont, kUseTuple);
      if (cec) co_return false;
    }
  }
  StripHopByHop(req, upgrade);
  AddForwardedHeaders(req, s.RemoteIp());
  req.version(11);
  if (!upgrade) req.keep_alive(true);

  if (!s.upstream) {
    auto [cec, connected] =
        co_await ConnectUpstream(route.upstream, s.env.upstream_tls, limits.connect_timeout);
    if (cec) {
      spdlog::warn("edge: upstream {}:{} of {} unreachable: {}", route.upstream.host,
                   route.upstream.port, route.host, cec.message());
      co_await WriteText(client, client_version, http::status::bad_gateway,
                         "the upstream of this endpoint is unreachable\n", false);
      co_return false;
    }
    s.upstream = std::make_unique<UpstreamStream>(std::move(*connected));
    s.upstream_buffer.clear();
  }
  UpstreamStream& upstream = *s.upstream;

  s.reading_body = !req_p.is_done();
  if (auto ec = co_await Relay(client, s.client_buffer, req_p, upstream, dog, limits.io_timeout)) {
    if (!dog.expired()) {
      co_await WriteText(client, client_version, http::status::bad_gateway,
                         "the upstream closed the connection\n", false);
    } else if (!req_p.is_done()) {
      co_await AnswerBodyTimeout(client, client_version);
    }
    co_return false;
  }
  s.reading_body = false;

  // Informational responses (103 Early Hints, a 100 Continue) come before
  // the final one: each goes to an HTTP/1.1 client as it is (never to an
  // HTTP/1.0 one), then the next is read. 101 ends an upgrade, below.
  std::optional<http::response_parser<http::buffer_body>> parser;
  for (int interim = 0;; ++interim) {
    parser.emplace();
    parser->header_limit(64 * 1024);
    parser->body_limit(boost::none);
    if (req.method() == http::verb::head) parser->skip(true);
    dog.Arm(limits.io_timeout);
    auto [hec, hn] =
        co_await http::async_read_header(upstream, s.upstream_buffer, *parser, kUseTuple);
    if (hec || interim == kMaxInterimResponses) {
      co_await WriteText(client, client_version,
                         dog.expired() ? http::status::gateway_timeout : http::status::bad_gateway,
                         hec ? "the upstream did not answer\n"
                             : "the upstream sent too many informational responses\n",
                         false);
      co_return false;
    }
    auto& head = parser->get();
    if (head.result_int() / 100 != 1 || head.result() == http::status::switching_protocols) break;
    if (client_version < 11) continue;
    StripHopByHop(head, false);
    head.body().data = nullptr;
    head.body().more = false;
    http::response_serializer<http::buffer_body> sr{head};
    auto [iec, in] = co_await http::async_write_header(client, sr, kUseTuple);
    if (iec) co_return false;
  }
  http::response_parser<http::buffer_body>& res_p = *parser;
  auto& res = res_p.get();

  if (upgrade && res.result() == http::status::switching_protocols) {
    // The rest of the connection is the upgraded protocol's: relay the 101,
    // then anything already buffered, then bytes both ways.
    http::response_serializer<http::buffer_body> sr{res};
    res.body().data = nullptr;
    res.body().more = false;
    dog.Arm(limits.io_timeout);
    auto [wec, wn] = co_await http::async_write_header(client, sr, kUseTuple);
    if (wec) co_return false;
    if (s.upstream_buffer.size() > 0) {
      auto [e1, n1] = co_await net::async_write(client, s.upstream_buffer.data(), kUseTuple);
      if (e1) co_return false;
      s.upstream_buffer.consume(n1);
    }
    if (s.client_buffer.size() > 0) {
      auto [e2, n2] = co_await net::async_write(upstream, s.client_buffer.data(), kUseTuple);
      if (e2) co_return false;
      s.client_buffer.consume(n2);
    }
    co_await Splice(
        client, upstream, dog, limits.idle_timeout,
        [&] { client.ShutdownSend(/*close_notify=*/false); }, [&] { upstream.ShutdownSend(); });
    co_return false;
  }

  StripHopByHop(res, false);
  const bool upstream_keep_alive = res_p.keep_alive();
  bool keep = client_keep_alive;
  const bool bodiless = req.method() == http::verb::head || res.result_int() / 100 == 1 ||
                        res.result() == http::status::no_content ||
                        res.result() == http::status::not_modified;
  const bool delimited = bodiless || res_p.chunked() || res_p.content_length().has_value();
  if (client_version < 11) {
    // HTTP/1.0 has no chunked encoding: send the body raw and close.
    if (res_p.chunked()) res.chunked(false);
    if (res_p.chunked() || !delimited) keep = false;
  } else if (!delimited) {
    res.chunked(true);  // ends by the upstream closing: chunk it, keep the client
  }
  res.version(client_version);
  res.keep_alive(keep);
  if (auto ec =
          co_await Relay(upstream, s.upstream_buffer, res_p, client, dog, limits.io_timeout)) {
    co_return false;
  }
  if (!upstream_keep_alive || !delimited) {
    upstream.Close();
    s.upstream.reset();
  }
  co_return keep;
}

}  // namespace

HttpsConnection::HttpsConnection(TlsStream c, const Route* r) : client(std::move(c)), route(r) {}
HttpsConnection::HttpsConnection(HttpsConnection&&) noexcept = default;
HttpsConnection::~HttpsConnection() = default;

void HttpsConnection::Close() {
  if (upstream) {
    upstream->Close();
    upstream.reset();
  }
  client.Close();
}

net::awaitable<bool> ServeHttpsRequests(HttpsConnection& c, const ProxyEnv& env,
                                        bool request_waiting) {
  HttpsSession s(c, env);
  TlsStream& client = c.client;
  while (request_waiting) {
    if (!co_await ServeOneRequest(s)) {
      s.dog.Disarm();
      co_return false;
    }
    request_waiting = s.client_buffer.size() > 0 || client.HasPending();
  }
  // Idle from here: nothing of the client's is left unread (the caller waits
  // on the socket); what was written leaves now.
  if (client.HoldsOutput()) {
    s.dog.Arm(env.limits.io_timeout);
    auto [fec, fn] = co_await client.async_flush(kUseTuple);
    if (fec) {
      s.dog.Disarm();
      co_return false;
    }
  }
  s.dog.Disarm();
  co_return true;
}

net::awaitable<void> ProxyTerminatedTls(TlsStream& client, const Route& route,
                                        const ProxyEnv& env) {
  auto [cec, upstream] =
      co_await ConnectUpstream(route.upstream, env.upstream_tls, env.limits.connect_timeout);
  if (cec) {
    spdlog::warn("edge: upstream {}:{} of {} unreachable: {}", route.upstream.host,
                 route.upstream.port, route.host, cec.message());
    co_return;
  }
  Watchdog dog(client.get_executor(), [&] {
    ShutdownSocket(client.socket());
    ShutdownSocket(upstream->socket());
  });
  co_await Splice(
      client, *upstream, dog, env.limits.idle_timeout,
      [&] { client.ShutdownSend(/*close_notify=*/false); }, [&] { upstream->ShutdownSend(); });
  upstream->Close();
}

net::awaitable<void> PassThrough(tcp::socket& client, const Route& route, const ProxyEnv& env) {
  Upstream plain = route.upstream;
  plain.scheme = "tcp";  // the client's TLS goes through as it is
  auto [cec, upstream] = co_await ConnectUpstream(plain, nullptr, env.limits.connect_timeout);
  if (cec) {
    spdlog::warn("edge: upstream {}:{} of {} unreachable: {}", route.upstream.host,
                 route.upstream.port, route.host, cec.message());
    co_return;
  }
  Watchdog dog(client.get_executor(), [&] {
    ShutdownSocket(client);
    ShutdownSocket(upstream->socket());
  });
  co_await Splice(
      client, *upstream, dog, env.limits.idle_timeout,
      [&] {
        error_code ignored;
        client.shutdown(tcp::socket::shutdown_send, ignored);
      },
      [&] { upstream->ShutdownSend(); });
  upstream->Close();
}

namespace {

constexpr std::string_view kAcmeChallengePrefix = "/.well-known/acme-challenge/";

// An ACME token: base64url, and short (RFC 8555 tokens carry 128 bits).
bool IsAcmeToken(std::string_view token) {
  if (token.empty() || token.size() > 256) return false;
  return std::all_of(token.begin(), token.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

}  // namespace

net::awaitable<void> ServeHttpRedirect(tcp::socket& client, const HttpLimits& limits,
                                       std::chrono::steady_clock::duration first_request_timeout,
                                       const AcmeTokenLookup& lookup) {
  bool reading_body = false;
  Watchdog dog(client.get_executor(), [&] {
    if (reading_body) {
      // Only the receiving side: the read fails, and a 408 can still be sent.
      error_code ignored;
      client.shutdown(tcp::socket::shutdown_receive, ignored);
    } else {
      ShutdownSocket(client);
    }
  });
  beast::flat_buffer buffer;
  for (bool first = true;; first = false) {
    // A connection that has sent nothing yet gets the short timeout.
    dog.Arm(first ? first_request_timeout : limits.idle_timeout);
    http::request_parser<http::buffer_body> req_p;
    req_p.header_limit(static_cast<uint32_t>(limits.header_limit));
    req_p.body_limit(boost::none);
    const error_code rec =
        co_await http1::ReadRequestHead(client, buffer, req_p, limits.header_limit);
    if (rec) {
      if (auto failure = ReadFailure(rec)) {
        co_await WriteText(client, 11, failure->first, failure->second, false);
      }
      break;
    }
    auto& req = req_p.get();
    const unsigned version = req.version();
    if (beast::iequals(req[http::field::expect], "100-continue") && !req_p.is_done()) {
      http::response<http::empty_body> cont{http::status::continue_, 11};
      dog.Arm(limits.io_timeout);
      auto [cec, cn] = co_await http::async_write(client, cont, kUseTuple);
      if (cec) break;
    }
    reading_body = true;
    const bool drained = co_await DiscardBody(client, buffer, req_p, dog, limits.io_timeout);
    reading_body = false;
    if (!drained && dog.expired()) {
      co_await WriteText(client, version, http::status::request_timeout,
                         "the request's body did not arrive in time\n", false);
      break;
    }
    const bool keep = req.keep_alive() && drained;
    std::string_view host_header = req[http::field::host];
    // Host without a port: the redirect goes to the default https port.
    std::string_view host = host_header;
    if (!host.empty() && host.front() != '[') host = host.substr(0, host.find(':'));
    auto normalized = names::NormalizeSni(host);
    dog.Arm(limits.io_timeout);
    error_code wec;
    std::string_view path = req.target();
    if (path.starts_with(kAcmeChallengePrefix) && req.method() == http::verb::get) {
      // The CA's HTTP-01 check: answered here, never redirected.
      std::string_view token = path.substr(kAcmeChallengePrefix.size());
      std::optional<std::string> answer;
      if (IsAcmeToken(token) && lookup) {
        auto found = co_await lookup(token);
        if (!found) {
          spdlog::error("edge: looking up an ACME token failed: {}", found.error().message);
        } else {
          answer = std::move(*found);
        }
      }
      if (answer) {
        wec = co_await WriteText(client, version, http::status::ok, std::move(*answer), keep);
      } else {
        wec = co_await WriteText(client, version, http::status::not_found,
                                 "no such ACME challenge token\n", keep);
      }
    } else if (!normalized) {
      wec = co_await WriteText(client, version, http::status::bad_request,
                               "a Host header naming the site is required\n", keep);
    } else {
      std::string target(req.target());
      if (target.empty() || target.front() != '/') target = "/";
      std::string location = "https://" + *normalized + target;
      wec = co_await WriteText(client, version, http::status::permanent_redirect,
                               "redirecting to " + location + "\n", keep, location);
    }
    if (wec || !keep) break;
  }
  error_code ignored;
  client.shutdown(tcp::socket::shutdown_both, ignored);
  client.close(ignored);
}

}  // namespace certgate::edge
