#include "provision/zone_cache.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>

#include "store/name_key.h"

namespace certgate::provision {
namespace {

// Entries read from the feed per batch: each batch is applied under one lock.
constexpr int kBatch = 4096;

}  // namespace

struct ZoneCache::State {
  explicit State(const NameHashes::Key& key) : reserved(key), targets(key), below(key) {}

  NameHashes reserved;  // reserved names strictly below the zone
  NameHashes targets;   // cname_targets strictly below the zone
  // For each name, how many reserved names and TXT names lie strictly below
  // it (the apex not counted): nonzero makes it an empty non-terminal.
  NameHashes below;
  // TXT values by name, each list sorted (as ChallengeStore lists them).
  std::map<std::string, std::vector<std::string>, std::less<>> txt;
  int64_t sequence = 0;
};

ZoneCache::ZoneCache(store::EdgeFeed& feed, store::ZoneNames& names,
                     store::ChallengeStore& challenges, std::string zone,
                     std::chrono::milliseconds poll_interval)
    : zone_(std::move(zone)),
      cname_parent_("cname." + zone_),
      acme_parent_("acme." + zone_),
      feed_(feed),
      names_(names),
      challenges_(challenges),
      follower_(feed, "dns zone", poll_interval, [this] { return CatchUp(); }) {}

ZoneCache::~ZoneCache() { Stop(); }

void ZoneCache::Start() { follower_.Start(); }
void ZoneCache::Stop() { follower_.Stop(); }

ZoneCache::Stats ZoneCache::stats() const {
  return Stats{full_loads_.load(), key_reads_.load(), changes_.load(), store_answers_.load()};
}

bool ZoneCache::InZone(std::string_view name) const {
  return name.size() > zone_.size() + 1 && name.ends_with(zone_) &&
         name[name.size() - zone_.size() - 1] == '.';
}

void ZoneCache::CountAncestors(State& state, std::string_view name, int delta) const {
  std::string_view rest = name;
  for (;;) {
    const size_t dot = rest.find('.');
    if (dot == std::string_view::npos) return;
    rest.remove_prefix(dot + 1);
    if (rest.size() <= zone_.size()) return;  // the apex: it exists anyway
    state.below.Add(rest, delta);
  }
}

Result<void> ZoneCache::Load() {
  std::lock_guard apply(apply_mu_);
  return LoadLocked();
}

Result<void> ZoneCache::LoadLocked() {
  const auto started = std::chrono::steady_clock::now();
  ++full_loads_;
  auto fresh = std::make_unique<State>(key_);
  CG_ASSIGN_OR_RETURN(
      fresh->sequence,
      names_.LoadZone(zone_, [&](store::ZoneNames::ZoneRecord kind, std::string_view name,
                                 std::string_view value) {
        switch (kind) {
          case store::ZoneNames::ZoneRecord::kReserved:
            if (InZone(name) && !fresh->reserved.Contains(name)) {
              fresh->reserved.Add(name, 1);
              CountAncestors(*fresh, name, 1);
            }
            break;
          case store::ZoneNames::ZoneRecord::kCnameTarget:
            if (InZone(name) && !fresh->targets.Contains(name)) fresh->targets.Add(name, 1);
            break;
          case store::ZoneNames::ZoneRecord::kTxt: {
            auto [it, added] = fresh->txt.try_emplace(std::string(name));
            if (added && InZone(name)) CountAncestors(*fresh, name, 1);
            it->second.emplace_back(value);
            break;
          }
        }
      }));
  for (auto& [name, values] : fresh->txt) std::sort(values.begin(), values.end());
  const size_t reserved = fresh->reserved.size();
  const size_t targets = fresh->targets.size();
  const int64_t sequence = fresh->sequence;
  {
    std::unique_lock lock(mu_);
    state_.swap(fresh);
  }
  spdlog::info("dns: loaded zone {} ({} reserved names, {} cname targets) at change {} in {} ms",
               zone_, reserved, targets, sequence,
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count());
  return {};
}

Result<void> ZoneCache::CatchUp() {
  std::lock_guard apply(apply_mu_);
  if (!state_) return LoadLocked();
  for (;;) {
    // Only appliers write state_, and they hold apply_mu_: no lock to read.
    auto batch = feed_.ChangesSince(state_->sequence, kBatch);
    if (!batch && batch.error().code == ErrorCode::kChangesExpired) {
      spdlog::warn("dns: fell behind the store's change feed ({}); loading the zone again",
                   batch.error().message);
      return LoadLocked();
    }
    if (!batch) return batch.error();
    changes_ += static_cast<int64_t>(batch->changes.size());
    if (batch->changes.empty()) return {};  // a poll that found nothing: no lock taken
    // Each name once per batch, read as it is now, with no lock held.
    std::set<std::string, std::less<>> reserved_names;
    std::set<std::string, std::less<>> target_names;
    std::set<std::string, std::less<>> txt_names;
    for (const store::EdgeChange& c : batch->changes) {
      if (c.kind == store::EdgeChangeKind::kDomain && InZone(c.key)) reserved_names.insert(c.key);
      if (c.kind == store::EdgeChangeKind::kCnameTarget && InZone(c.key)) {
        target_names.insert(c.key);
      }
      if (c.kind == store::EdgeChangeKind::kDnsTxt) txt_names.insert(c.key);
    }
    std::vector<std::pair<std::string_view, bool>> reserved_now;
    for (const std::string& name : reserved_names) {
      ++key_reads_;
      CG_ASSIGN_OR_RETURN(std::optional<store::EdgeDomain> d, feed_.EdgeDomainByName(name));
      reserved_now.emplace_back(name, d.has_value());
    }
    std::vector<std::pair<std::string_view, bool>> targets_now;
    for (const std::string& name : target_names) {
      ++key_reads_;
      CG_ASSIGN_OR_RETURN(bool is_target, names_.IsCnameTarget(name));
      targets_now.emplace_back(name, is_target);
    }
    std::vector<std::pair<std::string_view, std::vector<std::string>>> txt_now;
    for (const std::string& name : txt_names) {
      ++key_reads_;
      CG_ASSIGN_OR_RETURN(std::vector<std::string> values, challenges_.ListDnsTxtRecords(name));
      txt_now.emplace_back(name, std::move(values));
    }

    std::unique_lock lock(mu_);
    State& s = *state_;
    for (const auto& [name, now] : reserved_now) {
      if (s.reserved.Contains(name) == now) continue;
      s.reserved.Add(name, now ? 1 : -1);
      CountAncestors(s, name, now ? 1 : -1);
    }
    for (const auto& [name, now] : targets_now) {
      if (s.targets.Contains(name) != now) s.targets.Add(name, now ? 1 : -1);
    }
    for (auto& [name, values] : txt_now) {
      auto it = s.txt.find(name);
      const bool had = it != s.txt.end();
      if (values.empty()) {
        if (had) s.txt.erase(it);
      } else if (had) {
        it->second = std::move(values);
      } else {
        s.txt.emplace(std::string(name), std::move(values));
      }
      if (had != s.txt.contains(name) && InZone(name)) CountAncestors(s, name, had ? -1 : 1);
    }
    s.sequence = batch->sequence;
    if (!batch->more) return {};
  }
}

Result<bool> ZoneCache::IsEdgeName(std::string_view name) {
  const std::string wildcard = store::WildcardOver(name);
  std::shared_lock lock(mu_);
  if (!state_) {
    lock.unlock();
    ++store_answers_;
    return names_.IsEdgeName(name);
  }
  return state_->targets.Contains(name) || state_->reserved.Contains(name) ||
         (!wildcard.empty() && state_->reserved.Contains(wildcard));
}

Result<std::vector<std::string>> ZoneCache::TxtRecords(std::string_view name) {
  std::shared_lock lock(mu_);
  if (!state_) {
    lock.unlock();
    ++store_answers_;
    return challenges_.ListDnsTxtRecords(name);
  }
  auto it = state_->txt.find(name);
  return it == state_->txt.end() ? std::vector<std::string>() : it->second;
}

Result<bool> ZoneCache::HasNamesBelow(std::string_view name) {
  // cname_target and acme_challenge_cname_target names live one label under
  // these, which exist as their parents whatever the store holds.
  if (name == cname_parent_ || name == acme_parent_) return true;
  std::shared_lock lock(mu_);
  if (!state_) {
    lock.unlock();
    ++store_answers_;
    return names_.HasReservedNamesBelow(name);
  }
  return state_->below.Contains(name);
}

}  // namespace certgate::provision
