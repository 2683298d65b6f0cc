// Exchange: one request written and its response read on a connection that is
// already open, bounded by a deadline and by the request's ResponseLimits.
// This is the HTTP/1.1 exchange every client in certgate uses: HttpClient
// runs it on the connection it opens for each request, and tests that hold a
// keep-alive connection (tests/support's TlsClient) run it on theirs.
//
// Keep-alive is the caller's business: nothing here closes or reuses the
// connection. One exchange at a time per stream; different streams may be
// used from different threads.
#pragma once

#include <chrono>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "http_client/http_failure.h"
#include "http_client/http_request.h"

namespace certgate::http_client {

using SteadyTime = std::chrono::steady_clock::time_point;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// Coroutine form. The stream's expiry is set to `deadline`; a failure is
// kSend, kReceive, kResponseTooLarge or kMalformedResponse. A HEAD request's
// response is read without a body.
boost::asio::awaitable<ExchangeResult> AsyncExchange(boost::beast::tcp_stream& stream,
                                                     const HttpRequest& request,
                                                     SteadyTime deadline);
boost::asio::awaitable<ExchangeResult> AsyncExchange(TlsStream& stream, const HttpRequest& request,
                                                     SteadyTime deadline);

// Blocking form: runs AsyncExchange on io, the stream's io_context, which must
// have no other work (it is run until the exchange ends, then restarted).
ExchangeResult Exchange(boost::asio::io_context& io, boost::beast::tcp_stream& stream,
                        const HttpRequest& request, SteadyTime deadline);
ExchangeResult Exchange(boost::asio::io_context& io, TlsStream& stream,
                        const HttpRequest& request, SteadyTime deadline);

}  // namespace certgate::http_client
