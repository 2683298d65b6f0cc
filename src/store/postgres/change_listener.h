// ChangeListener: one PostgreSQL session per node that LISTENs on the
// change feed's channel (certgate_changes, NOTIFYed by every write to what
// the edge serves, after commit), with its socket in an Asio event loop: no
// thread of its own, no thread per query. It does not read changes itself;
// it tells on_change, whose readers (store::FeedFollower) catch up from the
// log. NOTIFY reaches only sessions listening at that moment, so on_change
// is also called after every (re)connect, and the followers' own poll
// covers a session that went silent. A lost session is reconnected with
// jittered exponential backoff; TCP keepalives (set by pg::Connection's
// defaults for every session of this backend) notice a dead peer.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

namespace certgate::store::pg {

struct ChangeListenerOptions {
  // Between reconnect attempts: doubled from min up to max, each wait
  // jittered by up to half its length so that nodes do not reconnect in step.
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  // How long a connection attempt may take.
  std::chrono::milliseconds connect_timeout{10000};
};

class ChangeListener {
 public:
  // on_change runs on ex's thread; it must be quick (wake a follower).
  ChangeListener(boost::asio::any_io_executor ex, std::string conninfo,
                 std::function<void()> on_change, ChangeListenerOptions options = {});
  ~ChangeListener();  // Stop()s
  ChangeListener(const ChangeListener&) = delete;
  ChangeListener& operator=(const ChangeListener&) = delete;

  // Starts connecting; once.
  void Start();
  // Ends the session and any wait, from any thread; the loop's work ends
  // with it. Idempotent.
  void Stop();

  // The server process id of the listening session, 0 while there is none
  // (for tests that terminate it).
  int backend_pid() const;
  // Sessions established so far.
  int sessions() const;

 private:
  struct State;  // shared with the running coroutine, which may outlive a Stop
  std::shared_ptr<State> state_;
};

}  // namespace certgate::store::pg
