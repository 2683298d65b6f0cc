// Sealing of key material at rest: XChaCha20-Poly1305 (libsodium's IETF AEAD)
// under a versioned master key, with the owning record's id as associated
// data, so a sealed blob opens only for the record it was sealed for.
//
// Blob layout (all integers big-endian):
//   byte 0      format, always 1
//   bytes 1..4  master key version that sealed it
//   bytes 5..28 random 24-byte nonce
//   bytes 29..  ciphertext followed by the 16-byte tag
// Associated data: bytes 0..4 of the blob, then the record id.
//
// KeyVault is thread-safe. It reloads its master keys from their source when
// asked to open a blob of a version it does not know, and before sealing when
// the key file has changed, so that `certgate admin keys rotate` in another
// process does not interrupt a running server.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/secret_bytes.h"

namespace certgate::seal {

inline constexpr size_t kMasterKeyBytes = 32;
inline constexpr char kMasterKeyEnv[] = "CERTGATE_MASTER_KEY";

// A set of master keys by version; the highest version seals.
class MasterKeys {
 public:
  // Parses the key file format: lines "v<N> <base64 of 32 bytes>", blank lines
  // and lines starting with '#' ignored. Error kMasterKeyInvalid names the line.
  static Result<MasterKeys> ParseFile(std::string_view text);
  // Parses CERTGATE_MASTER_KEY: either one base64 key (version 1) or entries
  // "v<N>:<base64>" separated by commas, semicolons or whitespace.
  static Result<MasterKeys> ParseEnv(std::string_view text);
  // The key file text for these keys, with a comment header.
  std::string FormatFile() const;

  // A new key, version current_version() + 1 (1 for an empty set).
  void AddGenerated();

  bool empty() const { return keys_.empty(); }
  uint32_t current_version() const;  // REQUIRES: !empty()
  // nullptr if that version is not present.
  const SecretBytes* Find(uint32_t version) const;
  std::vector<uint32_t> versions() const;

 private:
  friend struct MasterKeysAccess;  // key_vault.cc's parsers build the map directly
  std::map<uint32_t, SecretBytes> keys_;
};

// Where master keys come from: CERTGATE_MASTER_KEY if set, else a file.
struct MasterKeySource {
  std::optional<std::string> env_value;  // the variable's value, if set
  std::filesystem::path file;            // used when env_value is empty
  // Creates the file (mode 0600, one generated key) when it does not exist.
  bool create_file_if_missing = true;

  // env_value from the process environment, file as given.
  static MasterKeySource FromEnvironmentOr(std::filesystem::path file);
};

// Reads the master keys. A file is refused (kMasterKeyPermissions) when group
// or others may read it; a missing file is created 0600 if allowed, without
// following symlinks and without ever existing with wider permissions.
Result<MasterKeys> LoadMasterKeys(const MasterKeySource& source);

// Writes keys to path atomically (temporary file 0600, fsync, rename, fsync
// of the directory).
Result<void> WriteMasterKeyFile(const std::filesystem::path& path, const MasterKeys& keys);

class KeyVault {
 public:
  // Loads the keys (creating the file if allowed). Fails like LoadMasterKeys.
  static Result<std::unique_ptr<KeyVault>> Open(MasterKeySource source);

  // Seals plaintext for record_id under the current master key version.
  Result<std::vector<uint8_t>> Seal(std::span<const uint8_t> plaintext,
                                    std::string_view record_id);
  // Opens a blob sealed for record_id. Errors: kUnsealFailed (tampered, wrong
  // record, wrong key, malformed), kMasterKeyUnknownVersion.
  Result<SecretBytes> Unseal(std::span<const uint8_t> blob, std::string_view record_id);

  uint32_t current_version();
  // Re-reads the source now. Used by rotation and by tests.
  Result<void> Reload();

  // The master key version a blob was sealed under. Error: kUnsealFailed if
  // the blob is too short or of an unknown format.
  static Result<uint32_t> BlobKeyVersion(std::span<const uint8_t> blob);

 private:
  // Identifies one version of the key file. WriteMasterKeyFile renames a new
  // inode into place, so the inode number changes on every rotation; mtime
  // (nanoseconds), ctime and size guard against the kernel reusing the number.
  struct FileStamp {
    uint64_t dev = 0;
    uint64_t ino = 0;
    int64_t size = 0;
    int64_t mtime_sec = 0;
    int64_t mtime_nsec = 0;
    int64_t ctime_sec = 0;
    int64_t ctime_nsec = 0;
    bool operator==(const FileStamp&) const = default;
  };

  struct Loaded;  // keys and, for a file source, the stamp of the file read
  static Result<Loaded> Load(const MasterKeySource& source);

  KeyVault(MasterKeySource source, MasterKeys keys, std::optional<FileStamp> stamp);
  bool uses_file() const { return !source_.env_value.has_value(); }
  // Reloads the key file if it changed since the last load. Error if it is
  // gone or no longer loads. REQUIRES: mu_ held, uses_file().
  Result<void> ReloadIfFileChangedLocked();
  // Reads the source and replaces keys_. REQUIRES: mu_ held.
  Result<void> ReloadLocked();
  std::shared_ptr<const MasterKeys> Snapshot();

  const MasterKeySource source_;
  std::mutex mu_;
  std::shared_ptr<const MasterKeys> keys_;  // GUARDED_BY(mu_)
  std::optional<FileStamp> stamp_;          // GUARDED_BY(mu_); the loaded file's
};

}  // namespace certgate::seal
