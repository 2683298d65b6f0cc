// Snapshot: what the edge serves, frozen. Names map to certificate ids and
// hosts to endpoints; contexts themselves live in the ContextCache. Built
// by the control plane from the store and published to every worker; a
// worker only reads it, so the handshake path takes no lock and touches no
// store. Immutable; share as std::shared_ptr<const Snapshot>.
//
// A change does not rebuild it: With() makes the next snapshot from this
// one and a Delta (the names and hosts whose state changed). Names and
// routes are persistent sharded maps (edge/sharded_map.h), so the next
// snapshot shares every shard the delta did not touch: a change costs a few
// hundred entries' work at ten thousand names or at a million.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/result.h"
#include "edge/name_table.h"
#include "edge/sharded_map.h"
#include "policy/traffic_policy.h"
#include "store/records.h"

namespace certgate::edge {

struct Upstream {
  std::string scheme;  // "http", "https" or "tcp"
  std::string host;
  uint16_t port = 0;
};

// A terminate-tls action made ready for handshakes.
struct TerminatePolicy {
  // Distinguishes this policy's contexts in the cache: "<endpoint id>@<sequence>".
  std::string key;
  // The endpoint's own certificate (from the action), or empty to use the
  // one the domain selection finds.
  std::string certificate_id;
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  bool mutual_tls = false;
  policy::VerifyStrategy verify = policy::VerifyStrategy::kRequireAndVerify;
  // The CAs client certificates are verified against (owned).
  std::shared_ptr<X509_STORE> client_cas;
  // Their subject names, sent in the CertificateRequest (owned).
  std::shared_ptr<STACK_OF(X509_NAME)> client_ca_names;
  // ALPN protocols in wire format (length-prefixed), empty for the default.
  std::string alpn;
};

struct Route {
  std::string endpoint_id;
  bool https = true;  // false: a tls endpoint
  std::string host;
  Upstream upstream;
  std::optional<TerminatePolicy> terminate;
  // A tls endpoint without terminate-tls: bytes go to the upstream untouched.
  bool passthrough() const { return !https && !terminate; }
};

// A shard of the edge's routes for a ShardedMap: host -> route, sorted by
// host; of two routes for one host the first given wins.
class RouteShard {
 public:
  using Value = std::shared_ptr<const Route>;
  explicit RouteShard(std::span<const std::pair<std::string_view, Value>> entries);

  const Route* Find(std::string_view host) const;
  template <class Fn>
  void ForEach(Fn fn) const {
    for (const auto& [host, route] : routes_) fn(std::string_view(host), route);
  }
  size_t size() const { return routes_.size(); }

 private:
  std::vector<std::pair<std::string, Value>> routes_;
};

class Snapshot {
 public:
  // The outcome of selection for one SNI name.
  struct Choice {
    const Route* route = nullptr;          // the endpoint for the name, if any
    const TerminatePolicy* policy = nullptr;  // its terminate-tls, if any
    std::string_view certificate_id;       // "" = the default certificate
  };

  // What changed between two sequences of the store's change feed: the
  // current state of each name and host it named.
  struct Delta {
    int64_t sequence = 0;  // the feed's sequence after these changes
    // name -> its certificate id ("" for none yet); nullopt: no such domain.
    std::vector<std::pair<std::string, std::optional<std::string>>> domains;
    // host -> its route; nullopt: no endpoint serves it.
    std::vector<std::pair<std::string, std::optional<Route>>> routes;
  };

  // Builds a snapshot from a full load whose domains arrive one at a time
  // (a LoadEdgeState visitor): their bytes are packed into large blocks and
  // certificate ids kept once each, so a million names cost no million
  // records on the way.
  class Builder {
   public:
    void AddDomain(std::string_view name, std::optional<std::string_view> certificate_id);
    // rest: the endpoints and the change sequence (its domains are ignored).
    // Endpoints whose policy no longer parses are skipped (and logged): the
    // edge must keep serving the rest.
    std::shared_ptr<const Snapshot> Finish(const store::EdgeState& rest,
                                           std::string default_certificate_id);

   private:
    std::string_view Keep(std::string_view bytes);

    std::vector<std::unique_ptr<char[]>> blocks_;
    size_t block_used_ = 0;
    size_t block_size_ = 0;
    // Lookups by view without making a string.
    struct Hash {
      using is_transparent = void;
      size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_set<std::string, Hash, std::equal_to<>> certificates_;
    std::string_view last_certificate_;
    NameIndex::Entries exact_;
    NameIndex::Entries wildcard_;
  };

  // Builds from the store's state. default_certificate_id is the service's
  // own certificate.
  static std::shared_ptr<const Snapshot> Build(const store::EdgeState& state,
                                               std::string default_certificate_id);
  // This snapshot with delta applied (see the top of this file).
  std::shared_ptr<const Snapshot> With(const Delta& delta) const;

  // Selection, in order: the terminate-tls override of the host's endpoint,
  // the exact domain, the wildcard domain one label up, the default. sni is
  // normalized (names::NormalizeSni); empty means no SNI.
  Choice Select(std::string_view sni) const;

  // The route for a host, for pass-through decisions before a handshake.
  const Route* FindRoute(std::string_view host) const;
  bool has_passthrough() const { return has_passthrough_; }
  const std::string& default_certificate_id() const { return default_certificate_id_; }
  int64_t change_sequence() const { return change_sequence_; }
  size_t name_count() const { return exact_.size() + wildcard_.size(); }
  // Name shards in all, and those held in common with other (for tests).
  size_t name_shards() const { return exact_.shard_count() + wildcard_.shard_count(); }
  size_t name_shards_shared_with(const Snapshot& other) const {
    return exact_.SharedShards(other.exact_) + wildcard_.SharedShards(other.wildcard_);
  }

 private:
  NameIndex exact_;     // name -> certificate id ("" for none yet)
  NameIndex wildcard_;  // base of "*.base" -> certificate id
  ShardedMap<RouteShard> routes_;  // host -> route
  std::string default_certificate_id_;
  bool has_passthrough_ = false;  // may stay true after the last one goes
  int64_t change_sequence_ = 0;
};

// Where published snapshots go: the EdgeServer's workers, or a test.
class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  virtual void SetSnapshot(std::shared_ptr<const Snapshot> snapshot) = 0;
};

// The route of an endpoint, its terminate-tls compiled with sequence (which
// tells its contexts apart from an earlier version's in the cache); nullopt,
// logged, when its upstream or policy no longer parses.
std::optional<Route> MakeRoute(const store::Endpoint& endpoint, int64_t sequence);

// Compiles an endpoint's stored (normalized JSON) traffic policy; nullopt
// when it has no terminate-tls action.
Result<std::optional<TerminatePolicy>> CompileTerminatePolicy(const store::Endpoint& endpoint,
                                                              int64_t sequence);

// "http://127.0.0.1:8080" -> {http, 127.0.0.1, 8080}; default ports 80/443.
Result<Upstream> ParseUpstream(std::string_view url);

}  // namespace certgate::edge
