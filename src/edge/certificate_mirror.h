// CertificateMirror: a copy, on this node's disk, of what the edge needs to
// serve each certificate (its chain, and its private key sealed under the
// master key exactly as the store holds it), so that a node of a cluster
// keeps terminating TLS for every name it knows while the database is away,
// names whose TLS context it never built included.
//
// The copy is a SQLite file of its own (serve: <data_dir>/edge-certificates.db,
// owner-only). It is filled once, every certificate a page at a time (copying
// those it lacks or holds under another sealed key), then follows the store's
// change feed (store::FeedFollower), copying or dropping each certificate the
// feed names; a reader that fell behind the feed's retention fills again.
// The edge reads the store first and this copy only when the store cannot be
// reached (kStoreUnavailable).
//
// Thread-safe: the edge's context builders call Get; the follower applies.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "store/certificate_store.h"
#include "store/edge_feed.h"
#include "store/feed_follower.h"
#include "store/records.h"
#include "store/sealed_key_store.h"

namespace certgate::store::sqlite {
class Connection;
}

namespace certgate::edge {

class CertificateMirror {
 public:
  struct Stats {
    int64_t fills = 0;    // full passes over every certificate
    int64_t copied = 0;   // certificates written to the copy
    int64_t dropped = 0;  // certificates removed from it (deleted in the store)
    int64_t held = 0;     // certificates in the copy after the last pass or change
  };

  // Opens (creating, owner-only) the copy at file. The stores must outlive
  // the mirror.
  static Result<std::unique_ptr<CertificateMirror>> Open(
      const std::filesystem::path& file, store::EdgeFeed& feed,
      store::CertificateStore& certificates, store::SealedKeyStore& keys,
      std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250));
  ~CertificateMirror();
  CertificateMirror(const CertificateMirror&) = delete;
  CertificateMirror& operator=(const CertificateMirror&) = delete;

  // Fills the copy if it was never filled, else applies what the feed holds
  // now. Any thread; calls are serialized.
  Result<void> CatchUp();
  void Start();
  void Stop();

  // The copy of a certificate: id, certificate_pem and private_key (the
  // rest of the record is not kept); nullopt if this node has none.
  Result<std::optional<store::Certificate>> Get(std::string_view id);

  Stats stats() const;

 private:
  CertificateMirror(std::unique_ptr<store::sqlite::Connection> conn, store::EdgeFeed& feed,
                    store::CertificateStore& certificates, store::SealedKeyStore& keys,
                    std::chrono::milliseconds poll_interval);

  // Every certificate in the store, copied where the copy differs; what the
  // store no longer holds, dropped. REQUIRES: apply_mu_.
  Result<void> FillLocked();
  // Copies one certificate from the store, or drops it if the store has
  // none. REQUIRES: apply_mu_.
  Result<void> RefreshLocked(const std::string& id);
  // The sealed key the copy holds for id. REQUIRES: db_mu_.
  Result<std::optional<store::SealedKey>> KeptKeyLocked(std::string_view id);
  Result<void> PutLocked(const store::Certificate& cert);
  Result<bool> DropLocked(std::string_view id);
  Result<int64_t> CountLocked();

  store::EdgeFeed& feed_;
  store::CertificateStore& certificates_;
  store::SealedKeyStore& keys_;
  std::mutex apply_mu_;  // one fill or catch-up at a time
  std::optional<int64_t> sequence_;  // GUARDED_BY(apply_mu_): nullopt until filled
  std::mutex db_mu_;     // the copy's one connection
  std::unique_ptr<store::sqlite::Connection> conn_;  // GUARDED_BY(db_mu_)
  std::atomic<int64_t> fills_{0};
  std::atomic<int64_t> copied_{0};
  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> held_{0};
  store::FeedFollower follower_;  // last: stopped before the rest goes
};

}  // namespace certgate::edge
