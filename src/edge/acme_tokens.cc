#include "edge/acme_tokens.h"

#include <set>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace certgate::edge {
namespace {

constexpr int kBatch = 4096;

}  // namespace

AcmeTokens::AcmeTokens(store::EdgeFeed& feed, store::ChallengeStore& challenges,
                       std::chrono::milliseconds poll_interval)
    : feed_(feed),
      challenges_(challenges),
      follower_(feed, "http-01 answers", poll_interval, [this] { return CatchUp(); }) {}

AcmeTokens::~AcmeTokens() { Stop(); }

void AcmeTokens::Start() { follower_.Start(); }
void AcmeTokens::Stop() { follower_.Stop(); }

Result<void> AcmeTokens::Load() {
  std::lock_guard apply(apply_mu_);
  return LoadLocked();
}

Result<void> AcmeTokens::LoadLocked() {
  ++full_loads_;
  // The sequence first: a change between the two reads is applied again
  // afterwards, which re-reads its token and so changes nothing.
  CG_ASSIGN_OR_RETURN(int64_t sequence, feed_.ChangeSequence());
  CG_ASSIGN_OR_RETURN(auto all, challenges_.ListHttp01Challenges());
  std::map<std::string, std::string, std::less<>> fresh;
  for (auto& [token, answer] : all) fresh.emplace(std::move(token), std::move(answer));
  {
    std::unique_lock lock(mu_);
    answers_.swap(fresh);
  }
  sequence_ = sequence;
  return {};
}

Result<void> AcmeTokens::CatchUp() {
  std::lock_guard apply(apply_mu_);
  if (!sequence_) return LoadLocked();
  for (;;) {
    auto batch = feed_.ChangesSince(*sequence_, kBatch);
    if (!batch && batch.error().code == ErrorCode::kChangesExpired) {
      spdlog::warn("edge: fell behind the store's change feed ({}); loading the HTTP-01 answers "
                   "again",
                   batch.error().message);
      return LoadLocked();
    }
    if (!batch) return batch.error();
    std::set<std::string, std::less<>> tokens;
    for (const store::EdgeChange& c : batch->changes) {
      if (c.kind == store::EdgeChangeKind::kHttp01) tokens.insert(c.key);
    }
    // Read with no lock held, then applied under a short one.
    std::vector<std::pair<std::string_view, std::optional<std::string>>> now;
    for (const std::string& token : tokens) {
      ++token_reads_;
      CG_ASSIGN_OR_RETURN(auto answer, challenges_.GetHttp01KeyAuthorization(token));
      now.emplace_back(token, std::move(answer));
    }
    if (!now.empty()) {
      std::unique_lock lock(mu_);
      for (auto& [token, answer] : now) {
        if (answer) {
          answers_.insert_or_assign(std::string(token), std::move(*answer));
        } else if (auto it = answers_.find(token); it != answers_.end()) {
          answers_.erase(it);
        }
      }
    }
    sequence_ = batch->sequence;
    if (!batch->more) return {};
  }
}

std::optional<std::string> AcmeTokens::Find(std::string_view token) const {
  std::shared_lock lock(mu_);
  auto it = answers_.find(token);
  if (it == answers_.end()) return std::nullopt;
  return it->second;
}

bool AcmeTokens::TryBeginReadThrough(const SourceLimits::Key& source) {
  if (!reading_by_source_.TryAcquire(source)) {
    ++refused_reads_;
    return false;
  }
  int reading = reading_.load();
  do {
    if (reading >= kMaxReadThroughs) {
      reading_by_source_.Release(source);
      ++refused_reads_;
      return false;
    }
  } while (!reading_.compare_exchange_weak(reading, reading + 1));
  return true;
}

void AcmeTokens::EndReadThrough(const SourceLimits::Key& source) {
  reading_.fetch_sub(1);
  reading_by_source_.Release(source);
}

Result<std::optional<std::string>> AcmeTokens::ReadThrough(std::string_view token) {
  ++read_throughs_;
  return challenges_.GetHttp01KeyAuthorization(token);
}

AcmeTokens::Stats AcmeTokens::stats() const {
  return Stats{full_loads_.load(), token_reads_.load(), read_throughs_.load(),
               refused_reads_.load()};
}

}  // namespace certgate::edge
