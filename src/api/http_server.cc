#include "api/http_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

#include <array>
#include <exception>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "api/api_tls.h"
#include "api/problem.h"
#include "http1/request_head.h"
#include "core/ids.h"
#include "core/secret_bytes.h"

namespace certgate::api {
namespace {

namespace ssl = boost::asio::ssl;
using Clock = std::chrono::steady_clock;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);
// How long a closing connection may take to exchange TLS close_notify, and to
// drain what the client still sends after a refusal.
constexpr auto kCloseTimeout = std::chrono::seconds(2);

// Overwrites the storage of an empty buffer: it held the raw request, which
// may have carried a private key.
void WipeBuffer(beast::flat_buffer& buffer) {
  if (buffer.size() != 0 || buffer.capacity() == 0) return;
  auto region = buffer.prepare(buffer.capacity());
  Wipe(region.data(), region.size());
}

Error BadRequest(std::string message) {
  return MakeError(ErrorCode::kBadRequest, std::move(message));
}

// The error a failed read should be answered with, or nullopt to just close.
std::optional<Error> ReadErrorToAnswer(const beast::error_code& ec, size_t body_limit,
                                       size_t header_limit) {
  if (ec == http::error::body_limit) {
    return MakeError(ErrorCode::kBodyTooLarge,
                     fmt::format("the request body is larger than {} bytes", body_limit));
  }
  if (ec == http::error::header_limit) {
    return MakeError(ErrorCode::kHeaderTooLarge,
                     fmt::format("the request headers are larger than {} bytes", header_limit));
  }
  if (ec == http::error::partial_message) {
    return BadRequest("the connection ended before the request body was complete");
  }
  if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
      ec != http::error::end_of_stream) {
    return BadRequest(fmt::format("the HTTP request is malformed: {}", ec.message()));
  }
  return std::nullopt;
}

bool ExpectsContinue(const Request& req) {
  return beast::iequals(req[http::field::expect], "100-continue");
}

}  // namespace

struct HttpServer::Session : std::enable_shared_from_this<Session> {
  Session(net::io_context& io, tcp::socket socket, tcp::endpoint remote_endpoint,
          std::shared_ptr<ssl::context> context)
      : tls_context(std::move(context)), deadline(io), remote(std::move(remote_endpoint)) {
    if (tls_context) {
      tls.emplace(std::move(socket), *tls_context);
    } else {
      plain.emplace(std::move(socket));
    }
  }

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  // Starts the deadline of the next read or write: when it passes, the
  // operation is cancelled and timed_out set, but the socket stays open, so
  // that a 408 can still be written (a tcp_stream's own timeout closes it).
  void Arm(Clock::duration timeout) {
    timed_out = false;
    const uint64_t generation = ++deadline_generation;
    deadline.expires_after(timeout);
    deadline.async_wait([weak = weak_from_this(), generation](beast::error_code ec) {
      auto session = weak.lock();
      // A stale expiry (the deadline was re-armed after this one fired) is
      // not this operation's.
      if (ec || !session || session->deadline_generation != generation) return;
      session->timed_out = true;
      beast::error_code ignored;
      session->lowest().socket().cancel(ignored);
    });
  }
  void Disarm() {
    ++deadline_generation;
    deadline.cancel();
  }

  std::shared_ptr<ssl::context> tls_context;  // outlives tls
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  net::steady_timer deadline;
  uint64_t deadline_generation = 0;
  bool timed_out = false;
  tcp::endpoint remote;
  // No request in progress (handshake, waiting for or reading a head,
  // closing): the connection may be closed to make room for a new one.
  bool waiting = true;
  Clock::time_point waiting_since = Clock::now();
  bool evicted = false;
  bool counted = true;  // in the server's connection counts
  std::list<std::shared_ptr<Session>>::iterator self;
};

HttpServer::HttpServer(net::io_context& io, net::thread_pool& workers, RequestHandler handler,
                       HttpServerOptions options)
    : io_(io), workers_(workers), handler_(std::move(handler)), options_(std::move(options)) {}

HttpServer::~HttpServer() = default;

Result<tcp::endpoint> HttpServer::Listen(const std::string& host, uint16_t port) {
  beast::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("'{}' is not an IP address to listen on", host));
  }
  tcp::endpoint endpoint(address, port);
  tcp::acceptor& acceptor = acceptors_.emplace_back(io_);
  auto fail = [&](std::string_view what) -> Error {
    acceptors_.pop_back();
    return MakeError(ErrorCode::kIo, fmt::format("cannot listen on {}: {} failed: {}",
                                                 endpoint.address().to_string() + ":" +
                                                     std::to_string(port),
                                                 what, ec.message()));
  };
  if (acceptor.open(endpoint.protocol(), ec); ec) return fail("open");
  if (acceptor.set_option(net::socket_base::reuse_address(true), ec); ec) return fail("setsockopt");
  if (address.is_v6()) {
    if (acceptor.set_option(net::ip::v6_only(true), ec); ec) return fail("setsockopt");
  }
  if (acceptor.bind(endpoint, ec); ec) return fail("bind");
  if (acceptor.listen(net::socket_base::max_listen_connections, ec); ec) return fail("listen");
  auto bound = acceptor.local_endpoint(ec);
  if (ec) return fail("getsockname");
  return bound;
}

void HttpServer::Start() {
  for (auto& acceptor : acceptors_) {
    net::co_spawn(io_, Accept(acceptor), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
  }
}

void HttpServer::NoteRefused(const tcp::endpoint& remote, std::string_view why) {
  ++refusals_unlogged_;
  const auto now = Clock::now();
  if (now - last_refusal_log_ < std::chrono::seconds(1)) return;
  spdlog::warn("refused {} API connection(s) in the last second; the latest from {}: {}",
               refusals_unlogged_, remote.address().to_string(), why);
  last_refusal_log_ = now;
  refusals_unlogged_ = 0;
}

bool HttpServer::EvictOldestWaiting() {
  Session* oldest = nullptr;
  for (const auto& s : sessions_) {
    if (s->counted && s->waiting && (oldest == nullptr || s->waiting_since < oldest->waiting_since)) {
      oldest = s.get();
    }
  }
  if (oldest == nullptr) return false;
  spdlog::debug("closing the API connection from {} that waited longest, to make room",
                oldest->remote.address().to_string());
  oldest->evicted = true;
  Release(*oldest);
  oldest->lowest().close();
  return true;
}

void HttpServer::Release(Session& session) {
  if (!session.counted) return;
  session.counted = false;
  --counted_;
  auto it = per_source_.find(session.remote.address());
  if (it != per_source_.end() && --it->second == 0) per_source_.erase(it);
}

net::awaitable<void> HttpServer::Accept(tcp::acceptor& acceptor) {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (stopping_) co_return;
    if (ec) {
      // Out of file descriptors and the like: log, breathe, keep serving.
      spdlog::warn("accept failed: {}", ec.message());
      net::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    beast::error_code rec;
    tcp::endpoint remote = socket.remote_endpoint(rec);
    if (rec) {
      socket.close(rec);
      continue;
    }
    auto source = per_source_.find(remote.address());
    if (source != per_source_.end() && source->second >= options_.max_connections_per_source) {
      NoteRefused(remote, fmt::format("{} connections from that address are open already",
                                      options_.max_connections_per_source));
      socket.close(rec);
      continue;
    }
    if (counted_ >= options_.max_connections && !EvictOldestWaiting()) {
      NoteRefused(remote, fmt::format("{} connections are open already, each with a request in "
                                      "progress",
                                      options_.max_connections));
      socket.close(rec);
      continue;
    }
    auto session = std::make_shared<Session>(
        io_, std::move(socket), remote,
        options_.tls != nullptr ? options_.tls->Current() : nullptr);
    sessions_.push_back(session);
    session->self = std::prev(sessions_.end());
    ++counted_;
    ++per_source_[remote.address()];
    net::co_spawn(io_, Serve(session), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("connection failed unexpectedly: {}", ex.what());
      }
    });
  }
}

net::awaitable<Response> HttpServer::Dispatch(Request& req, const RequestContext& ctx) {
  co_return co_await net::co_spawn(
      workers_,
      [this, &req, &ctx]() -> net::awaitable<Response> {
        try {
          co_return handler_(req, ctx);
        } catch (const std::exception& e) {
          spdlog::error("op={} request handler threw: {}", ctx.operation_id, e.what());
        }
        co_return ErrorResponse(MakeError(ErrorCode::kInternal, "internal error"),
                                ctx.operation_id, req.version());
      },
      net::use_awaitable);
}

net::awaitable<void> HttpServer::Serve(std::shared_ptr<Session> session) {
  if (session->tls) {
    co_await ServeOn(session, *session->tls);
  } else {
    co_await ServeOn(session, *session->plain);
  }
  session->Disarm();
  Forget(session.get());
}

template <class Stream>
net::awaitable<void> HttpServer::ServeOn(std::shared_ptr<Session> s, Stream& stream) {
  constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  const std::string_view scheme = kTls ? "https" : "http";
  beast::error_code ec;
  // Deadlines are the session's own timer (see Session::Arm).
  s->lowest().expires_never();
  bool linger = false;  // the client may still be sending: drain before closing
  bool secured = !kTls;

  // Writes a refusal, closes after it. The caller breaks out of its loop.
  auto refuse = [&](const Error& error, const std::string& op,
                    std::optional<http::status> status) -> net::awaitable<void> {
    Response res = ErrorResponse(error, op, 11, status);
    res.keep_alive(false);
    if (kTls) res.set(http::field::strict_transport_security, kHstsValue);
    s->Arm(options_.io_timeout);
    co_await http::async_write(stream, res, kUseTuple);
    CountResponse(res.result_int());
    spdlog::info("{} - {} op={} ({})", s->remote.address().to_string(), res.result_int(), op,
                 error.message);
    linger = true;
  };

  if constexpr (kTls) {
    s->Arm(options_.first_request_timeout);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kUseTuple);
    if (hec) {
      spdlog::debug("TLS handshake with {} failed: {}", s->remote.address().to_string(),
                    s->timed_out ? std::string("timed out") : hec.message());
    } else {
      secured = true;
    }
  }

  beast::flat_buffer buffer;
  bool first = true;
  while (secured && !stopping_ && !s->evicted) {
    s->waiting = true;
    s->waiting_since = Clock::now();
    s->Arm(first ? options_.first_request_timeout : options_.io_timeout);

    // The head, strictly (http1/request_head.h: no smuggling, no obs-fold).
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(options_.header_limit));
    parser.body_limit(options_.body_limit);
    const beast::error_code rec =
        co_await http1::ReadRequestHead(stream, buffer, parser, options_.header_limit);
    if (rec) {
      if (s->evicted || stopping_) break;
      // Nothing of a request yet: an idle connection ends without a word.
      const bool parse_error = rec.category() == http1::HeadCategory() ||
                               rec.category() == http::make_error_code(http::error::bad_method).category();
      if (rec == http::error::end_of_stream || (!parse_error && buffer.size() == 0)) break;
      const std::string op = NewId("op");
      if (rec.category() == http1::HeadCategory()) {
        co_await refuse(BadRequest(rec.message()), op, std::nullopt);
      } else if (s->timed_out) {
        const auto seconds = (first ? options_.first_request_timeout : options_.io_timeout).count();
        co_await refuse(BadRequest(fmt::format("the request head did not arrive within {} seconds",
                                               seconds)),
                        op, http::status::request_timeout);
      } else if (rec == http::error::partial_message || rec == net::error::eof ||
                 rec == ssl::error::stream_truncated) {
        co_await refuse(BadRequest("the connection ended in the middle of a request head"), op,
                        std::nullopt);
      } else if (auto answer =
                     ReadErrorToAnswer(rec, options_.body_limit, options_.header_limit)) {
        co_await refuse(*answer, op, std::nullopt);
      }
      break;
    }
    s->waiting = false;
    const std::string op = NewId("op");
    first = false;
    if (!parser.is_done()) {
      if (ExpectsContinue(parser.get())) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        s->Arm(options_.io_timeout);
        auto [cec, cn] = co_await http::async_write(stream, cont, kUseTuple);
        if (cec) break;
      }
      s->Arm(options_.io_timeout);
      auto [bec, bn] = co_await http::async_read(stream, buffer, parser, kUseTuple);
      if (bec) {
        if (s->timed_out) {
          co_await refuse(BadRequest(fmt::format("the request body did not arrive within {} "
                                                 "seconds",
                                                 options_.io_timeout.count())),
                          op, http::status::request_timeout);
        } else if (auto answer =
                       ReadErrorToAnswer(bec, options_.body_limit, options_.header_limit)) {
          co_await refuse(*answer, op, std::nullopt);
        }
        break;
      }
    }

    Request req = parser.release();
    WipeBuffer(buffer);
    const auto started = Clock::now();
    RequestContext ctx{op, s->remote, scheme};
    s->Disarm();
    Response res = co_await Dispatch(req, ctx);
    Wipe(req.body().data(), req.body().size());
    // HEAD: GET's head, Content-Length included, and no body, whatever the
    // handler put in it (a body here would be read as the next response).
    if (req.method() == http::verb::head && !res.body().empty()) {
      if (res.find(http::field::content_length) == res.end()) res.prepare_payload();
      res.body().clear();
    }
    const bool keep_alive = req.keep_alive() && !stopping_;
    res.keep_alive(keep_alive);
    if (res.find(kOperationIdHeader) == res.end()) res.set(kOperationIdHeader, op);
    if (kTls) res.set(http::field::strict_transport_security, kHstsValue);
    s->Arm(options_.io_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, kUseTuple);
    CountResponse(res.result_int());
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    spdlog::info("{} {} {} {} {}ms op={}", s->remote.address().to_string(),
                 std::string_view(req.method_string()), std::string_view(req.target()),
                 res.result_int(), ms, op);
    if (wec || !keep_alive) break;
  }

  // Closing: the connection may make room for a new one from here on.
  s->waiting = true;
  s->waiting_since = Clock::now();
  auto& socket = s->lowest().socket();
  if constexpr (kTls) {
    if (secured && socket.is_open() && !s->evicted) {
      s->Arm(kCloseTimeout);
      co_await stream.async_shutdown(kUseTuple);
    }
  }
  if (linger && socket.is_open() && !s->evicted) {
    // Half-close, then read and drop what the client still sends for a short
    // while, so that it sees our answer instead of a connection reset.
    socket.shutdown(tcp::socket::shutdown_send, ec);
    s->Arm(kCloseTimeout);
    std::array<char, 16384> sink;
    size_t drained = 0;
    while (drained < 8 * options_.body_limit) {
      auto [dec, dn] = co_await s->lowest().async_read_some(net::buffer(sink), kUseTuple);
      if (dec) break;
      drained += dn;
    }
  }
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

void HttpServer::Forget(Session* session) {
  Release(*session);
  sessions_.erase(session->self);
  MaybeDone();
}

void HttpServer::MaybeDone() {
  if (stopping_ && sessions_.empty() && on_done_) {
    auto done = std::exchange(on_done_, nullptr);
    if (grace_timer_) grace_timer_->cancel();
    net::post(io_, std::move(done));
  }
}

void HttpServer::Shutdown(std::chrono::milliseconds grace, std::function<void()> done) {
  stopping_ = true;
  on_done_ = std::move(done);
  beast::error_code ec;
  for (auto& acceptor : acceptors_) acceptor.close(ec);
  for (auto& s : sessions_) {
    if (s->waiting) s->lowest().socket().cancel(ec);
  }
  grace_timer_ = std::make_unique<net::steady_timer>(io_, grace);
  grace_timer_->async_wait([this](beast::error_code wait_ec) {
    if (wait_ec) return;
    for (auto& s : sessions_) s->lowest().close();
  });
  MaybeDone();
}

}  // namespace certgate::api
