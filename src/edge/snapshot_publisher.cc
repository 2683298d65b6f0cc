#include "edge/snapshot_publisher.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace certgate::edge {
namespace {

// Entries read from the feed per batch: each batch is one published snapshot.
constexpr int kBatch = 4096;

}  // namespace

SnapshotPublisher::SnapshotPublisher(store::EdgeFeed& feed, SnapshotSink& sink,
                                     std::string default_certificate_id,
                                     std::chrono::milliseconds poll_interval)
    : feed_(feed),
      sink_(sink),
      default_certificate_id_(std::move(default_certificate_id)),
      follower_(feed, "edge", poll_interval, [this] { return CatchUp(); }) {}

SnapshotPublisher::~SnapshotPublisher() { Stop(); }

SnapshotPublisher::Stats SnapshotPublisher::stats() const {
  return Stats{full_loads_.load(), key_reads_.load(), changes_.load(), published_.load(),
               sequence_.load()};
}

Result<void> SnapshotPublisher::PublishNow() {
  const auto started = std::chrono::steady_clock::now();
  ++full_loads_;
  Snapshot::Builder builder;
  CG_ASSIGN_OR_RETURN(store::EdgeState rest,
                      feed_.LoadEdgeState([&](std::string_view name,
                                              std::optional<std::string_view> certificate_id) {
                        builder.AddDomain(name, certificate_id);
                      }));
  current_ = builder.Finish(rest, default_certificate_id_);
  sink_.SetSnapshot(current_);
  ++published_;
  sequence_ = current_->change_sequence();
  spdlog::info("edge: loaded {} names at change {} in {} ms", current_->name_count(),
               current_->change_sequence(),
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count());
  return {};
}

Result<void> SnapshotPublisher::CatchUp() {
  if (!current_) return PublishNow();
  for (;;) {
    auto batch = feed_.ChangesSince(current_->change_sequence(), kBatch);
    if (!batch && batch.error().code == ErrorCode::kChangesExpired) {
      spdlog::warn("edge: fell behind the store's change feed ({}); loading everything again",
                   batch.error().message);
      return PublishNow();
    }
    if (!batch) return batch.error();
    if (batch->changes.empty()) return {};
    // Each name and host once per batch, read as it is now: later entries
    // for the same key would read the same state.
    std::set<std::string> domains;
    std::set<std::string> hosts;
    for (const store::EdgeChange& c : batch->changes) {
      if (c.kind == store::EdgeChangeKind::kDomain) domains.insert(c.key);
      if (c.kind == store::EdgeChangeKind::kEndpoint) hosts.insert(c.key);
      // Certificates are found by id when a handshake needs them, and
      // challenge answers are read live: neither is in the snapshot.
    }
    Snapshot::Delta delta;
    delta.sequence = batch->sequence;
    for (const std::string& name : domains) {
      ++key_reads_;
      CG_ASSIGN_OR_RETURN(std::optional<store::EdgeDomain> d, feed_.EdgeDomainByName(name));
      std::optional<std::string> cert;
      if (d) cert = d->certificate_id.value_or("");
      delta.domains.emplace_back(name, std::move(cert));
    }
    for (const std::string& host : hosts) {
      ++key_reads_;
      CG_ASSIGN_OR_RETURN(std::vector<store::Endpoint> endpoints, feed_.EndpointsByHost(host));
      std::optional<Route> route;
      for (const store::Endpoint& e : endpoints) {  // by id: the first that compiles wins
        route = MakeRoute(e, batch->sequence);
        if (route) break;
      }
      delta.routes.emplace_back(host, std::move(route));
    }
    current_ = current_->With(delta);
    sink_.SetSnapshot(current_);
    changes_ += static_cast<int64_t>(batch->changes.size());
    ++published_;
    sequence_ = current_->change_sequence();
    spdlog::debug("edge: applied {} changes up to {} ({} names)", batch->changes.size(),
                  batch->sequence, current_->name_count());
    if (!batch->more) return {};
  }
}

void SnapshotPublisher::Start() { follower_.Start(); }

void SnapshotPublisher::Stop() { follower_.Stop(); }

}  // namespace certgate::edge
