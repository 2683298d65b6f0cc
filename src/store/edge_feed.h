// What the edge reads to serve: one consistent snapshot; a change feed (what
// each write touched, in commit order, by any process) and the current state
// of each key it names, so that a reader applies a change without reloading
// everything; a cheap counter to poll; and a same-process change callback.
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value, and records of another
// account are not found).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/records.h"

namespace certgate::store {

// What one entry of the change feed names; the entry says what was touched,
// not how: the reader re-reads the key.
enum class EdgeChangeKind {
  kCertificate,  // key: the certificate's id
  kDomain,       // key: the reserved domain's name
  kEndpoint,     // key: the endpoint's host (an update that moves it: both)
  kHttp01,       // key: the HTTP-01 token
  kDnsTxt,       // key: the TXT record's name
  kCnameTarget,  // key: a cname_target a domain gained or lost
};

struct EdgeChange {
  int64_t sequence = 0;
  EdgeChangeKind kind = EdgeChangeKind::kCertificate;
  std::string key;  // may be "" (a marker entry at the start of the log)
};

struct EdgeChanges {
  std::vector<EdgeChange> changes;  // oldest first, every sequence > after
  // The sequence the reader has seen up to: the last change's, or `after`
  // when there are none.
  int64_t sequence = 0;
  bool more = false;  // limit was reached; ask again after `sequence`
};

class EdgeFeed {
 public:
  virtual ~EdgeFeed() = default;

  // Receives the domains of a full load one at a time: the views live only
  // during the call (certificate_id nullopt: none yet).
  using EdgeDomainVisitor =
      std::function<void(std::string_view name, std::optional<std::string_view> certificate_id)>;

  // Everything the edge serves, read in one transaction, with the sequence
  // it stands at: apply ChangesSince(state.change_sequence) afterwards.
  Result<EdgeState> LoadEdgeState();
  // The same, but each domain goes to visit (in the same transaction) and
  // state.domains stays empty: a full load of a million names without a
  // million records held at once.
  virtual Result<EdgeState> LoadEdgeState(const EdgeDomainVisitor& visit) = 0;
  // The sequence of the newest committed change: grows with every write to
  // what the edge serves (certificates, domains, endpoints, HTTP-01
  // challenges, TXT records), by any process. Cheap: the edge polls it.
  virtual Result<int64_t> ChangeSequence() = 0;
  // The changes committed after `after`, oldest first, at most limit (>= 1).
  // Every write appends its entries in its own transaction, so a reader
  // that applies them in order, re-reading each key, ends at the state of
  // the last one. The feed keeps a bounded number of entries: when it no
  // longer holds every change after `after` (or `after` is ahead of it: a
  // different store), kChangesExpired, and the reader loads everything again.
  virtual Result<EdgeChanges> ChangesSince(int64_t after, int limit) = 0;
  // The current state of one key, as LoadEdgeState shows it: the reserved
  // domain with this name, and the endpoints on this host.
  virtual Result<std::optional<EdgeDomain>> EdgeDomainByName(std::string_view name) = 0;
  virtual Result<std::vector<Endpoint>> EndpointsByHost(std::string_view host) = 0;
  // Calls fn (on the writing thread, after commit) for every write made
  // through this Store object, so that this process's edge reacts at once.
  // fn must be quick and thread-safe. Not removable; lives as long as the store.
  virtual void OnChange(std::function<void()> fn) = 0;
};

}  // namespace certgate::store
