// HttpServer: the API's HTTP/1.1 listener on Boost.Beast, one coroutine per
// connection. Connections run on one io_context thread; the request handler
// runs on a worker pool because it may block (store, key validation).
//
// Limits, each answered with the API's error shape: request headers over
// header_limit (431), a body over body_limit (413, decided from
// Content-Length before the body is read), a malformed request (400), and a
// read or write that takes longer than io_timeout (connection closed). At
// most max_connections are open; further ones are closed at once.
//
// Thread-safety: Listen, Start and Shutdown must be called from the thread
// that runs the io_context (or before it runs).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include "api/http_types.h"
#include "core/result.h"

namespace certgate::api {

struct HttpServerOptions {
  size_t body_limit = 1024 * 1024;
  size_t header_limit = 16 * 1024;
  std::chrono::seconds io_timeout{30};
  size_t max_connections = 1024;
  std::string scheme = "http";
};

// Called on a worker thread for each request. May block; must not throw
// (an exception becomes a 500). The request's body is wiped after the call.
using RequestHandler = std::function<Response(Request&, const RequestContext&)>;

class HttpServer {
 public:
  HttpServer(net::io_context& io, net::thread_pool& workers, RequestHandler handler,
             HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0 picks a free one). Returns the bound address.
  Result<tcp::endpoint> Listen(const std::string& host, uint16_t port);
  // Starts accepting on every bound address.
  void Start();
  // Stops accepting, closes idle connections, lets requests in progress
  // finish; after `grace` closes whatever is left. Calls done once no
  // connection remains.
  void Shutdown(std::chrono::milliseconds grace, std::function<void()> done);

  size_t open_connections() const { return sessions_.size(); }

 private:
  struct Session;
  net::awaitable<void> Accept(tcp::acceptor& acceptor);
  net::awaitable<void> Serve(std::shared_ptr<Session> session);
  net::awaitable<Response> Dispatch(Request& req, const RequestContext& ctx);
  void Forget(Session* session);
  void MaybeDone();

  net::io_context& io_;
  net::thread_pool& workers_;
  RequestHandler handler_;
  const HttpServerOptions options_;
  std::list<tcp::acceptor> acceptors_;
  std::list<std::shared_ptr<Session>> sessions_;
  bool stopping_ = false;
  std::function<void()> on_done_;
  std::unique_ptr<net::steady_timer> grace_timer_;
};

}  // namespace certgate::api
