#include "store/postgres/change_listener.h"

#include <libpq-fe.h>

#include <atomic>
#include <optional>
#include <random>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "store/postgres/connection.h"

namespace certgate::store::pg {

namespace net = boost::asio;

namespace {

constexpr char kListen[] = "LISTEN certgate_changes";
constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

struct ConnFinisher {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnFinisher>;

std::string_view MessageOf(PGconn* conn) {
  std::string_view s = PQerrorMessage(conn);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

}  // namespace

struct ChangeListener::State {
  State(net::any_io_executor executor, std::string info, std::function<void()> fn,
        ChangeListenerOptions opts)
      : ex(std::move(executor)),
        conninfo(std::move(info)),
        on_change(std::move(fn)),
        options(opts),
        timer(ex) {}

  const net::any_io_executor ex;
  const std::string conninfo;  // may hold a password: never logged
  const std::function<void()> on_change;
  const ChangeListenerOptions options;
  std::atomic<bool> stopped{false};
  std::atomic<int> backend_pid{0};
  std::atomic<int> sessions{0};
  // Touched only on ex's thread: what Stop cancels.
  net::steady_timer timer;
  net::posix::stream_descriptor* waiting = nullptr;

  // Waits until libpq's socket is ready for `what`, or until the deadline
  // (when given). False on a timeout, a stop or a socket error. The
  // descriptor is released, never closed: the socket is libpq's.
  net::awaitable<bool> WaitSocket(PGconn* conn, net::posix::descriptor_base::wait_type what,
                                  std::optional<std::chrono::steady_clock::time_point> deadline) {
    using namespace net::experimental::awaitable_operators;
    const int fd = PQsocket(conn);
    if (fd < 0 || stopped.load()) co_return false;
    net::posix::stream_descriptor socket(ex, fd);
    // Released, never closed, however this frame ends (also destroyed
    // unfinished along with its io_context): the socket is libpq's, and
    // PQfinish closes it.
    struct Release {
      State& state;
      net::posix::stream_descriptor& socket;
      ~Release() {
        state.waiting = nullptr;
        socket.release();
      }
    } release{*this, socket};
    waiting = &socket;
    bool ready = false;
    if (deadline) {
      timer.expires_at(*deadline);
      auto both = co_await (socket.async_wait(what, kUseTuple) || timer.async_wait(kUseTuple));
      ready = both.index() == 0 && !std::get<0>(std::get<0>(both));
    } else {
      auto [ec] = co_await socket.async_wait(what, kUseTuple);
      ready = !ec;
    }
    co_return ready && !stopped.load();
  }

  // One session: connects, listens, and reports notifications until the
  // connection fails or Stop. True if it got as far as listening.
  net::awaitable<bool> Session() {
    ConnPtr conn(StartConnecting(conninfo));
    if (conn == nullptr || PQstatus(conn.get()) == CONNECTION_BAD) {
      spdlog::warn("change listener: cannot connect to PostgreSQL: {}",
                   conn ? MessageOf(conn.get()) : "out of memory");
      co_return false;
    }
    const auto deadline = std::chrono::steady_clock::now() + options.connect_timeout;
    PostgresPollingStatusType polled = PGRES_POLLING_WRITING;
    while (polled != PGRES_POLLING_OK) {
      if (polled == PGRES_POLLING_FAILED) {
        spdlog::warn("change listener: cannot connect to PostgreSQL: {}", MessageOf(conn.get()));
        co_return false;
      }
      const auto what = polled == PGRES_POLLING_READING ? net::posix::descriptor_base::wait_read
                                                        : net::posix::descriptor_base::wait_write;
      if (!co_await WaitSocket(conn.get(), what, deadline)) {
        if (!stopped.load()) spdlog::warn("change listener: connecting to PostgreSQL timed out");
        co_return false;
      }
      polled = PQconnectPoll(conn.get());
    }
    if (PQsetnonblocking(conn.get(), 1) != 0 || PQsendQuery(conn.get(), kListen) != 1) {
      spdlog::warn("change listener: cannot send LISTEN: {}", MessageOf(conn.get()));
      co_return false;
    }
    int flushed;
    while ((flushed = PQflush(conn.get())) == 1) {
      if (!co_await WaitSocket(conn.get(), net::posix::descriptor_base::wait_write, deadline)) {
        co_return false;
      }
    }
    if (flushed < 0) co_return false;
    while (true) {
      if (PQconsumeInput(conn.get()) != 1) {
        spdlog::warn("change listener: LISTEN failed: {}", MessageOf(conn.get()));
        co_return false;
      }
      if (PQisBusy(conn.get()) == 0) break;
      if (!co_await WaitSocket(conn.get(), net::posix::descriptor_base::wait_read, deadline)) {
        co_return false;
      }
    }
    bool listening = true;
    while (PGresult* res = PQgetResult(conn.get())) {
      if (PQresultStatus(res) != PGRES_COMMAND_OK) listening = false;
      PQclear(res);
    }
    if (!listening) {
      spdlog::warn("change listener: LISTEN failed: {}", MessageOf(conn.get()));
      co_return false;
    }
    backend_pid.store(PQbackendPID(conn.get()));
    sessions.fetch_add(1);
    spdlog::info("change listener: listening for other nodes' changes (PostgreSQL session {})",
                 backend_pid.load());
    // What was sent while no session listened is lost: catch up now.
    on_change();
    while (co_await WaitSocket(conn.get(), net::posix::descriptor_base::wait_read, std::nullopt)) {
      if (PQconsumeInput(conn.get()) != 1) {
        spdlog::warn("change listener: lost the PostgreSQL session: {}", MessageOf(conn.get()));
        break;
      }
      bool any = false;
      while (PGnotify* n = PQnotifies(conn.get())) {
        PQfreemem(n);
        any = true;
      }
      if (any) on_change();
    }
    backend_pid.store(0);
    co_return true;
  }

  net::awaitable<void> Run(std::shared_ptr<State> self) {
    std::minstd_rand jitter(std::random_device{}());
    auto backoff = options.backoff_min;
    while (!stopped.load()) {
      const bool listened = co_await Session();
      if (stopped.load()) break;
      if (listened) backoff = options.backoff_min;
      // Whatever happened meanwhile is read once connected again; until
      // then the followers' own poll keeps trying the store.
      const auto half = backoff.count() / 2;
      const auto wait = std::chrono::milliseconds(
          backoff.count() - (half > 0 ? static_cast<int64_t>(jitter() % half) : 0));
      timer.expires_after(wait);
      co_await timer.async_wait(kUseTuple);
      backoff = std::min(backoff * 2, options.backoff_max);
    }
    (void)self;  // kept alive until the loop ends
  }
};

ChangeListener::ChangeListener(net::any_io_executor ex, std::string conninfo,
                               std::function<void()> on_change, ChangeListenerOptions options)
    : state_(std::make_shared<State>(std::move(ex), std::move(conninfo), std::move(on_change),
                                     options)) {}

ChangeListener::~ChangeListener() { Stop(); }

void ChangeListener::Start() {
  net::co_spawn(state_->ex, state_->Run(state_), net::detached);
}

void ChangeListener::Stop() {
  if (state_->stopped.exchange(true)) return;
  net::post(state_->ex, [state = state_] {
    state->timer.cancel();
    if (state->waiting != nullptr) state->waiting->cancel();
  });
}

int ChangeListener::backend_pid() const { return state_->backend_pid.load(); }

int ChangeListener::sessions() const { return state_->sessions.load(); }

}  // namespace certgate::store::pg
