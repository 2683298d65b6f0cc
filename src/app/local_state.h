// The state a certgate process opens on this machine: the data directory,
// the master keys and the store. Used by `serve` and by `admin` commands.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "core/result.h"
#include "seal/key_vault.h"
#include "store/store.h"

namespace certgate::app {

struct LocalOptions {
  // Default: $CERTGATE_DATA_DIR, else ./certgate-data.
  std::filesystem::path data_dir;
  // Default: "sqlite:<data_dir>/certgate.db".
  std::string store_url;
};

// The data directory when none is given.
std::filesystem::path DefaultDataDir();

struct LocalState {
  std::filesystem::path data_dir;
  // This node's id ("node_..."), made once and kept in <data_dir>/node-id:
  // the owner of the job leases this node takes, so it stays the same
  // across restarts and differs between nodes sharing a store (a copied
  // data directory must have its node-id file removed).
  std::string node_id;
  std::unique_ptr<seal::KeyVault> vault;
  std::unique_ptr<store::Store> store;
};

// Creates the data directory (0700) if missing, loads or creates the master
// key (CERTGATE_MASTER_KEY, else <data_dir>/master.key, created 0600), loads
// or creates the node id, opens and migrates the store.
// Permissions are checked first: a data directory or a sqlite database (and
// its -wal/-shm/-journal files) that group or others may use is narrowed to
// its owner's bits (0755 -> 0700, 0644 -> 0600) when it belongs to this
// process's user, with one warning log line naming what changed; one that
// belongs to another user is refused (kConfigInvalid), since certgate cannot
// fix it. A master key file others may read is refused, not fixed
// (KeyVault::Open, kMasterKeyPermissions): its key may already have been
// copied, and the operator must decide whether to rotate it.
Result<LocalState> OpenLocal(const LocalOptions& options);

}  // namespace certgate::app
