#include "api/http_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <exception>
#include <optional>
#include <utility>

#include "api/problem.h"
#include "core/ids.h"
#include "core/secret_bytes.h"

namespace certgate::api {
namespace {

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

// Overwrites the storage of an empty buffer: it held the raw request, which
// may have carried a private key.
void WipeBuffer(beast::flat_buffer& buffer) {
  if (buffer.size() != 0 || buffer.capacity() == 0) return;
  auto region = buffer.prepare(buffer.capacity());
  Wipe(region.data(), region.size());
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
  if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return MakeError(ErrorCode::kBadRequest,
                     fmt::format("the HTTP request is malformed: {}", ec.message()));
  }
  return std::nullopt;
}

}  // namespace

struct HttpServer::Session {
  explicit Session(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  tcp::endpoint remote;
  bool busy = false;
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
    if (sessions_.size() >= options_.max_connections) {
      spdlog::warn("refusing a connection: {} connections are open already",
                   options_.max_connections);
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    auto session = std::make_shared<Session>(std::move(socket));
    sessions_.push_front(session);
    session->self = sessions_.begin();
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

net::awaitable<void> HttpServer::Serve(std::shared_ptr<Session> s) {
  beast::error_code ec;
  s->remote = s->stream.socket().remote_endpoint(ec);
  beast::flat_buffer buffer;
  bool linger = false;  // the client may still be sending: drain before closing

  while (!stopping_) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(options_.header_limit));
    parser.body_limit(options_.body_limit);
    s->stream.expires_after(options_.io_timeout);
    auto [hec, hn] = co_await http::async_read_header(s->stream, buffer, parser, kUseTuple);
    s->busy = true;
    const std::string op = NewId("op");
    if (!hec && !parser.is_done()) {
      if (parser.get()[http::field::expect] == "100-continue") {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        auto [cec, cn] = co_await http::async_write(s->stream, cont, kUseTuple);
        if (cec) break;
      }
      auto [bec, bn] = co_await http::async_read(s->stream, buffer, parser, kUseTuple);
      hec = bec;
    }
    if (hec) {
      auto answer = ReadErrorToAnswer(hec, options_.body_limit, options_.header_limit);
      if (answer) {
        Response res = ErrorResponse(*answer, op, 11);
        res.keep_alive(false);
        s->stream.expires_after(options_.io_timeout);
        co_await http::async_write(s->stream, res, kUseTuple);
        spdlog::info("{} - {} op={} ({})", s->remote.address().to_string(), res.result_int(), op,
                     hec.message());
        linger = true;
      }
      break;
    }

    Request req = parser.release();
    WipeBuffer(buffer);
    const auto started = std::chrono::steady_clock::now();
    RequestContext ctx{op, s->remote, options_.scheme};
    Response res = co_await Dispatch(req, ctx);
    Wipe(req.body().data(), req.body().size());
    const bool keep_alive = req.keep_alive() && !stopping_;
    res.keep_alive(keep_alive);
    if (res.find(kOperationIdHeader) == res.end()) res.set(kOperationIdHeader, op);
    s->stream.expires_after(options_.io_timeout);
    auto [wec, wn] = co_await http::async_write(s->stream, res, kUseTuple);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    spdlog::info("{} {} {} {} {}ms op={}", s->remote.address().to_string(),
                 std::string_view(req.method_string()), std::string_view(req.target()),
                 res.result_int(), ms, op);
    s->busy = false;
    if (wec || !keep_alive) break;
  }

  auto& socket = s->stream.socket();
  if (linger && socket.is_open()) {
    // Half-close, then read and drop what the client still sends for a short
    // while, so that it sees our answer instead of a connection reset.
    socket.shutdown(tcp::socket::shutdown_send, ec);
    s->stream.expires_after(std::chrono::seconds(2));
    std::array<char, 16384> sink;
    size_t drained = 0;
    while (drained < 8 * options_.body_limit) {
      auto [dec, dn] = co_await s->stream.async_read_some(net::buffer(sink), kUseTuple);
      if (dec) break;
      drained += dn;
    }
  }
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
  Forget(s.get());
}

void HttpServer::Forget(Session* session) {
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
    if (!s->busy) s->stream.cancel();
  }
  grace_timer_ = std::make_unique<net::steady_timer>(io_, grace);
  grace_timer_->async_wait([this](beast::error_code wait_ec) {
    if (wait_ec) return;
    for (auto& s : sessions_) s->stream.close();
  });
  MaybeDone();
}

}  // namespace certgate::api
