#include "seal/key_vault.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

namespace certgate::seal {

struct MasterKeysAccess {
  static MasterKeys Make(std::map<uint32_t, SecretBytes> keys) {
    MasterKeys result;
    result.keys_ = std::move(keys);
    return result;
  }
};

namespace {

constexpr uint8_t kBlobFormat = 1;
constexpr size_t kHeaderBytes = 5;  // format byte + big-endian version
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr size_t kPrefixBytes = kHeaderBytes + kNonceBytes;
static_assert(kNonceBytes == 24 && kTagBytes == 16);
static_assert(kMasterKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

// A key file is a few lines; anything larger is not one.
constexpr size_t kMaxKeyFileBytes = 1 << 20;
// Base64 text longer than this cannot be a 32-byte key; refuse before decoding.
constexpr size_t kMaxKeyBase64Chars = 1024;
constexpr int kBase64Variant = sodium_base64_VARIANT_ORIGINAL;
constexpr size_t kKeyBase64Len = sodium_base64_ENCODED_LEN(kMasterKeyBytes, kBase64Variant);

constexpr std::string_view kFileHeader =
    "# certgate master keys: one line \"v<N> <base64 key>\" per key version.\n"
    "#\n"
    "# Every private key in the store is sealed under one of these keys. Losing\n"
    "# this file (or a version still in use) loses every key sealed under it for\n"
    "# good: back it up somewhere safe, and keep it readable by certgate's user\n"
    "# only (chmod 600).\n"
    "#\n"
    "# The highest version seals new keys; older versions still open the keys\n"
    "# sealed under them. `certgate admin keys rotate` adds a version and\n"
    "# re-seals; remove an old version only once no sealed key uses it.\n";

void EnsureSodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();
}

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

// Owns a file descriptor; closes it on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the error close() gives (the last chance to see a
  // failed write on some file systems).
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

// "v<N>" with 1 <= N <= 2^32-1. Returns an explanation on failure.
Result<uint32_t> ParseVersion(std::string_view token) {
  if (token.size() < 2 || token[0] != 'v') {
    return MakeError(ErrorCode::kMasterKeyInvalid, "expected a version \"v<N>\" first");
  }
  uint64_t n = 0;
  for (char c : token.substr(1)) {
    if (c < '0' || c > '9') {
      return MakeError(ErrorCode::kMasterKeyInvalid, "the version is not \"v\" and a number");
    }
    n = n * 10 + static_cast<uint64_t>(c - '0');
    if (n > std::numeric_limits<uint32_t>::max()) {
      return MakeError(ErrorCode::kMasterKeyInvalid, "the version number is too large");
    }
  }
  if (n == 0) {
    return MakeError(ErrorCode::kMasterKeyInvalid,
                     "version v0 is not allowed; versions start at v1");
  }
  return static_cast<uint32_t>(n);
}

// Decodes one base64 key straight into locked memory; the decode buffer is a
// SecretBytes too, so nothing is left behind in ordinary heap memory.
Result<SecretBytes> DecodeKey(std::string_view b64) {
  if (b64.size() > kMaxKeyBase64Chars) {
    return MakeError(ErrorCode::kMasterKeyInvalid, "the key is far too long for a 32-byte key");
  }
  EnsureSodium();
  SecretBytes buf(b64.size() / 4 * 3 + 3);
  size_t len = 0;
  if (sodium_base642bin(buf.data(), buf.size(), b64.data(), b64.size(), nullptr, &len, nullptr,
                        kBase64Variant) != 0) {
    return MakeError(ErrorCode::kMasterKeyInvalid, "the key is not valid base64");
  }
  if (len != kMasterKeyBytes) {
    return MakeError(ErrorCode::kMasterKeyInvalid,
                     fmt::format("the key is {} bytes long, not {}", len, kMasterKeyBytes));
  }
  return SecretBytes::CopyOf(buf.span().first(kMasterKeyBytes));
}

Error AtPlace(Error e, std::string_view place) {
  e.message = fmt::format("{}: {}", place, e.message);
  return e;
}

struct Entry {
  std::string_view version;
  std::string_view key;
};

// Adds one "version, key" entry; `place` names it in errors ("line 3 of ...").
Result<void> AddEntry(std::map<uint32_t, SecretBytes>& keys, const Entry& entry,
                      std::string_view place) {
  auto version = ParseVersion(entry.version);
  if (!version.ok()) return AtPlace(std::move(version).error(), place);
  if (keys.contains(*version)) {
    return MakeError(ErrorCode::kMasterKeyInvalid,
                     fmt::format("{}: version v{} appears twice", place, *version));
  }
  auto key = DecodeKey(entry.key);
  if (!key.ok()) return AtPlace(std::move(key).error(), place);
  keys.emplace(*version, std::move(key).value());
  return {};
}

Result<MasterKeys> ParseFileNamed(std::string_view text, std::string_view what);

struct FileRead {
  MasterKeys keys;
  struct stat st {};
};

Result<void> WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(ErrorCode::kIo, ErrnoText(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

std::filesystem::path DirectoryOf(const std::filesystem::path& path) {
  std::filesystem::path dir = path.parent_path();
  return dir.empty() ? std::filesystem::path(".") : dir;
}

// Makes a rename or creation in dir durable.
Result<void> FsyncDirectory(const std::filesystem::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    return MakeError(ErrorCode::kIo,
                     fmt::format("cannot sync directory {}: {}", dir.string(), ErrnoText(errno)));
  }
  return {};
}

// Writes `keys` to an open, empty, new file and makes it durable.
Result<void> FillNewKeyFile(Fd& fd, const MasterKeys& keys) {
  // fchmod: the mode given to open() is narrowed by the umask but never widened;
  // set it exactly so that the check on the next load passes.
  if (::fchmod(fd.get(), 0600) != 0) return MakeError(ErrorCode::kIo, ErrnoText(errno));
  std::string text = keys.FormatFile();
  auto written = WriteAll(fd.get(), text);
  Wipe(text.data(), text.size());
  CG_RETURN_IF_ERROR(written);
  if (::fsync(fd.get()) != 0) return MakeError(ErrorCode::kIo, ErrnoText(errno));
  return {};
}

// Reads and checks an opened key file.
Result<FileRead> ReadOpenedKeyFile(Fd& fd, const std::filesystem::path& path) {
  FileRead read;
  if (::fstat(fd.get(), &read.st) != 0) {
    return MakeError(ErrorCode::kIo, fmt::format("cannot stat master key file {}: {}",
                                                 path.string(), ErrnoText(errno)));
  }
  if (!S_ISREG(read.st.st_mode)) {
    return MakeError(ErrorCode::kMasterKeyInvalid,
                     fmt::format("master key file {} is not a regular file", path.string()));
  }
  if ((read.st.st_mode & 077) != 0) {
    return MakeError(ErrorCode::kMasterKeyPermissions,
                     fmt::format("master key file {} may be read by group or others (mode {:04o}); "
                                 "run `chmod 600 {}`",
                                 path.string(), read.st.st_mode & 07777, path.string()));
  }
  if (static_cast<uint64_t>(read.st.st_size) > kMaxKeyFileBytes) {
    return MakeError(
        ErrorCode::kMasterKeyInvalid,
        fmt::format("master key file {} is over 1 MiB, so it is not a key file", path.string()));
  }
  SecretBytes text(static_cast<size_t>(read.st.st_size));
  size_t filled = 0;
  while (filled < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + filled, text.size() - filled);
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(ErrorCode::kIo, fmt::format("cannot read master key file {}: {}",
                                                   path.string(), ErrnoText(errno)));
    }
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  CG_ASSIGN_OR_RETURN(read.keys, ParseFileNamed(text.view().substr(0, filled),
                                                fmt::format("master key file {}", path.string())));
  return read;
}

// Reads the key file, creating it with one generated key when it is missing and
// `create` allows. Never follows a symlink at `path`.
Result<FileRead> ReadKeyFile(const std::filesystem::path& path, bool create) {
  // Two attempts: if another process creates the file between our open() and
  // our O_EXCL create, the second open() reads theirs.
  for (int attempt = 0; attempt < 2; ++attempt) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (fd.get() >= 0) return ReadOpenedKeyFile(fd, path);
    int err = errno;
    if (err == ELOOP) {
      return MakeError(ErrorCode::kMasterKeyPermissions,
                       fmt::format("master key file {} is a symbolic link, which certgate does not "
                                   "follow; name the real file instead",
                                   path.string()));
    }
    if (err != ENOENT) {
      return MakeError(ErrorCode::kIo, fmt::format("cannot open master key file {}: {}",
                                                   path.string(), ErrnoText(err)));
    }
    if (!create) {
      return MakeError(ErrorCode::kIo,
                       fmt::format("master key file {} does not exist", path.string()));
    }
    Fd out(::open(path.c_str(), O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0600));
    if (out.get() < 0) {
      if (errno == EEXIST) continue;
      return MakeError(ErrorCode::kIo, fmt::format("cannot create master key file {}: {}",
                                                   path.string(), ErrnoText(errno)));
    }
    FileRead read;
    read.keys.AddGenerated();
    auto filled = FillNewKeyFile(out, read.keys);
    if (filled.ok() && ::fstat(out.get(), &read.st) != 0) {
      filled = MakeError(ErrorCode::kIo, ErrnoText(errno));
    }
    if (filled.ok()) {
      if (int close_err = out.Close(); close_err != 0) {
        filled = MakeError(ErrorCode::kIo, ErrnoText(close_err));
      }
    }
    if (!filled.ok()) {
      // A half-written key file would be refused on every later start; remove it.
      ::unlink(path.c_str());
      return MakeError(ErrorCode::kIo, fmt::format("cannot write master key file {}: {}",
                                                   path.string(), filled.error().message));
    }
    CG_RETURN_IF_ERROR(FsyncDirectory(DirectoryOf(path)));
    return read;
  }
  return MakeError(ErrorCode::kIo,
                   fmt::format("master key file {} keeps appearing and vanishing", path.string()));
}

Result<MasterKeys> ParseFileNamed(std::string_view text, std::string_view what) {
  std::map<uint32_t, SecretBytes> keys;
  size_t line_no = 0;
  while (!text.empty() || line_no == 0) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line[0] == '#') continue;
    std::string place = fmt::format("line {} of {}", line_no, what);
    size_t gap = 0;
    while (gap < line.size() && !IsSpace(line[gap])) ++gap;
    std::string_view key = Trim(line.substr(gap));
    if (key.empty() || std::any_of(key.begin(), key.end(), IsSpace)) {
      return MakeError(ErrorCode::kMasterKeyInvalid,
                       fmt::format("{}: expected \"v<N> <base64 key>\"", place));
    }
    CG_RETURN_IF_ERROR(AddEntry(keys, Entry{line.substr(0, gap), key}, place));
  }
  if (keys.empty()) {
    return MakeError(ErrorCode::kMasterKeyInvalid, fmt::format("{} holds no key", what));
  }
  return MasterKeysAccess::Make(std::move(keys));
}

template <class Stamp>
Stamp StampOf(const struct stat& st) {
  Stamp s;
  s.dev = static_cast<uint64_t>(st.st_dev);
  s.ino = static_cast<uint64_t>(st.st_ino);
  s.size = static_cast<int64_t>(st.st_size);
  s.mtime_sec = static_cast<int64_t>(st.st_mtim.tv_sec);
  s.mtime_nsec = static_cast<int64_t>(st.st_mtim.tv_nsec);
  s.ctime_sec = static_cast<int64_t>(st.st_ctim.tv_sec);
  s.ctime_nsec = static_cast<int64_t>(st.st_ctim.tv_nsec);
  return s;
}

}  // namespace

// ---- MasterKeys ----

Result<MasterKeys> MasterKeys::ParseFile(std::string_view text) {
  return ParseFileNamed(text, "the master key file");
}

Result<MasterKeys> MasterKeys::ParseEnv(std::string_view text) {
  constexpr std::string_view kWhat = kMasterKeyEnv;
  std::vector<std::string_view> tokens;
  size_t pos = 0;
  while (pos < text.size()) {
    char c = text[pos];
    if (c == ',' || c == ';' || IsSpace(c)) {
      ++pos;
      continue;
    }
    size_t end = pos;
    while (end < text.size() && text[end] != ',' && text[end] != ';' && !IsSpace(text[end])) {
      ++end;
    }
    tokens.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  if (tokens.empty()) {
    return MakeError(
        ErrorCode::kMasterKeyInvalid,
        fmt::format("{} is set but holds no key; unset it to use the key file", kWhat));
  }
  std::map<uint32_t, SecretBytes> keys;
  // Base64 never contains ':', so a lone token without one is a bare key.
  if (tokens.size() == 1 && tokens[0].find(':') == std::string_view::npos) {
    auto key = DecodeKey(tokens[0]);
    if (!key.ok()) return AtPlace(std::move(key).error(), kWhat);
    keys.emplace(1, std::move(key).value());
    return MasterKeysAccess::Make(std::move(keys));
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string place = fmt::format("entry {} of {}", i + 1, kWhat);
    size_t colon = tokens[i].find(':');
    if (colon == std::string_view::npos) {
      return MakeError(ErrorCode::kMasterKeyInvalid,
                       fmt::format("{}: expected \"v<N>:<base64 key>\"", place));
    }
    CG_RETURN_IF_ERROR(
        AddEntry(keys, Entry{tokens[i].substr(0, colon), tokens[i].substr(colon + 1)}, place));
  }
  return MasterKeysAccess::Make(std::move(keys));
}

std::string MasterKeys::FormatFile() const {
  EnsureSodium();
  std::string out;
  // Reserve it all up front: a reallocation would leave a copy of the keys
  // written so far in freed heap memory.
  out.reserve(kFileHeader.size() + keys_.size() * (kKeyBase64Len + 16));
  out += kFileHeader;
  for (const auto& [version, key] : keys_) {
    char b64[kKeyBase64Len];
    sodium_bin2base64(b64, sizeof b64, key.data(), key.size(), kBase64Variant);
    out += 'v';
    out += std::to_string(version);
    out += ' ';
    out += b64;
    out += '\n';
    sodium_memzero(b64, sizeof b64);
  }
  return out;
}

void MasterKeys::AddGenerated() {
  EnsureSodium();
  uint32_t version = empty() ? 1 : current_version() + 1;
  if (version == 0) std::abort();  // 2^32 rotations: unreachable in practice
  SecretBytes key(kMasterKeyBytes);
  randombytes_buf(key.data(), key.size());
  keys_.emplace(version, std::move(key));
}

uint32_t MasterKeys::current_version() const { return keys_.empty() ? 0 : keys_.rbegin()->first; }

const SecretBytes* MasterKeys::Find(uint32_t version) const {
  auto it = keys_.find(version);
  return it == keys_.end() ? nullptr : &it->second;
}

std::vector<uint32_t> MasterKeys::versions() const {
  std::vector<uint32_t> out;
  out.reserve(keys_.size());
  for (const auto& entry : keys_) out.push_back(entry.first);
  return out;
}

// ---- Sources and files ----

MasterKeySource MasterKeySource::FromEnvironmentOr(std::filesystem::path file) {
  MasterKeySource source;
  if (const char* value = std::getenv(kMasterKeyEnv); value != nullptr) source.env_value = value;
  source.file = std::move(file);
  return source;
}

Result<MasterKeys> LoadMasterKeys(const MasterKeySource& source) {
  if (source.env_value.has_value()) return MasterKeys::ParseEnv(*source.env_value);
  CG_ASSIGN_OR_RETURN(FileRead read, ReadKeyFile(source.file, source.create_file_if_missing));
  return std::move(read.keys);
}

Result<void> WriteMasterKeyFile(const std::filesystem::path& path, const MasterKeys& keys) {
  if (keys.empty()) {
    // Writing no keys would destroy every sealed key's only way back.
    return MakeError(
        ErrorCode::kMasterKeyInvalid,
        fmt::format("refusing to write master key file {} without keys", path.string()));
  }
  const std::filesystem::path dir = DirectoryOf(path);
  std::string tmp = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  // mkostemp creates the file 0600 with O_EXCL, so it never follows a link.
  Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (fd.get() < 0) {
    return MakeError(ErrorCode::kIo, fmt::format("cannot create a temporary file in {}: {}",
                                                 dir.string(), ErrnoText(errno)));
  }
  auto filled = FillNewKeyFile(fd, keys);
  if (filled.ok()) {
    if (int close_err = fd.Close(); close_err != 0) {
      filled = MakeError(ErrorCode::kIo, ErrnoText(close_err));
    }
  }
  if (filled.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    filled = MakeError(ErrorCode::kIo, ErrnoText(errno));
  }
  if (!filled.ok()) {
    ::unlink(tmp.c_str());
    return MakeError(ErrorCode::kIo, fmt::format("cannot write master key file {}: {}",
                                                 path.string(), filled.error().message));
  }
  return FsyncDirectory(dir);
}

// ---- KeyVault ----

struct KeyVault::Loaded {
  MasterKeys keys;
  std::optional<FileStamp> stamp;
};

Result<KeyVault::Loaded> KeyVault::Load(const MasterKeySource& source) {
  if (source.env_value.has_value()) {
    CG_ASSIGN_OR_RETURN(MasterKeys keys, MasterKeys::ParseEnv(*source.env_value));
    return Loaded{std::move(keys), std::nullopt};
  }
  CG_ASSIGN_OR_RETURN(FileRead read, ReadKeyFile(source.file, source.create_file_if_missing));
  return Loaded{std::move(read.keys), StampOf<FileStamp>(read.st)};
}

KeyVault::KeyVault(MasterKeySource source, MasterKeys keys, std::optional<FileStamp> stamp)
    : source_(std::move(source)),
      keys_(std::make_shared<const MasterKeys>(std::move(keys))),
      stamp_(stamp) {}

Result<std::unique_ptr<KeyVault>> KeyVault::Open(MasterKeySource source) {
  EnsureSodium();
  CG_ASSIGN_OR_RETURN(Loaded loaded, Load(source));
  return std::unique_ptr<KeyVault>(
      new KeyVault(std::move(source), std::move(loaded.keys), loaded.stamp));
}

std::shared_ptr<const MasterKeys> KeyVault::Snapshot() {
  std::lock_guard lock(mu_);
  return keys_;
}

Result<void> KeyVault::ReloadLocked() {
  MasterKeySource source = source_;
  // Never create the file on reload: a key file that vanished under a running
  // server must be restored from backup, not silently replaced by a new key
  // that reuses version numbers.
  source.create_file_if_missing = false;
  CG_ASSIGN_OR_RETURN(Loaded loaded, Load(source));
  keys_ = std::make_shared<const MasterKeys>(std::move(loaded.keys));
  stamp_ = loaded.stamp;
  return {};
}

Result<void> KeyVault::ReloadIfFileChangedLocked() {
  struct stat st {};
  if (::lstat(source_.file.c_str(), &st) != 0) {
    return MakeError(ErrorCode::kIo,
                     fmt::format("cannot check master key file {} ({}); refusing to seal under a "
                                 "master key that may no longer be stored",
                                 source_.file.string(), ErrnoText(errno)));
  }
  if (stamp_.has_value() && *stamp_ == StampOf<FileStamp>(st)) return {};
  return ReloadLocked();
}

Result<void> KeyVault::Reload() {
  if (!uses_file()) return {};  // the environment cannot change under a running process
  std::lock_guard lock(mu_);
  return ReloadLocked();
}

uint32_t KeyVault::current_version() {
  std::lock_guard lock(mu_);
  if (uses_file()) {
    // Best effort: on failure keep answering from the keys loaded last; Seal
    // reports the failure.
    static_cast<void>(ReloadIfFileChangedLocked());
  }
  return keys_->current_version();
}

Result<uint32_t> KeyVault::BlobKeyVersion(std::span<const uint8_t> blob) {
  if (blob.size() < kPrefixBytes + kTagBytes) {
    return MakeError(ErrorCode::kUnsealFailed,
                     fmt::format("sealed key blob is too short ({} bytes)", blob.size()));
  }
  if (blob[0] != kBlobFormat) {
    return MakeError(ErrorCode::kUnsealFailed,
                     fmt::format("sealed key blob has unknown format {}", blob[0]));
  }
  return (uint32_t{blob[1]} << 24) | (uint32_t{blob[2]} << 16) | (uint32_t{blob[3]} << 8) |
         uint32_t{blob[4]};
}

namespace {

// Associated data: the blob's header, then the record id.
std::vector<uint8_t> AssociatedData(std::span<const uint8_t> header, std::string_view record_id) {
  std::vector<uint8_t> ad(header.size() + record_id.size());
  std::copy(header.begin(), header.end(), ad.begin());
  std::transform(record_id.begin(), record_id.end(),
                 ad.begin() + static_cast<ptrdiff_t>(header.size()),
                 [](char c) { return static_cast<uint8_t>(c); });
  return ad;
}

std::string VersionList(const MasterKeys& keys) {
  std::string out;
  for (uint32_t v : keys.versions()) {
    if (!out.empty()) out += ", ";
    out += fmt::format("v{}", v);
  }
  return out;
}

}  // namespace

Result<std::vector<uint8_t>> KeyVault::Seal(std::span<const uint8_t> plaintext,
                                            std::string_view record_id) {
  std::shared_ptr<const MasterKeys> keys;
  {
    std::lock_guard lock(mu_);
    if (uses_file()) CG_RETURN_IF_ERROR(ReloadIfFileChangedLocked());
    keys = keys_;
  }
  const uint32_t version = keys->current_version();
  const SecretBytes* key = keys->Find(version);
  if (key == nullptr) {
    return MakeError(ErrorCode::kSealFailed, "no master key is loaded to seal with");
  }
  std::vector<uint8_t> blob(kPrefixBytes + plaintext.size() + kTagBytes);
  blob[0] = kBlobFormat;
  for (int i = 0; i < 4; ++i) blob[1 + i] = static_cast<uint8_t>(version >> (24 - 8 * i));
  randombytes_buf(blob.data() + kHeaderBytes, kNonceBytes);
  std::vector<uint8_t> ad = AssociatedData(std::span(blob).first(kHeaderBytes), record_id);
  unsigned long long sealed_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(
          blob.data() + kPrefixBytes, &sealed_len, plaintext.data(), plaintext.size(), ad.data(),
          ad.size(), nullptr, blob.data() + kHeaderBytes, key->data()) != 0 ||
      sealed_len != plaintext.size() + kTagBytes) {
    return MakeError(ErrorCode::kSealFailed,
                     fmt::format("sealing the key of record {} failed", record_id));
  }
  return blob;
}

Result<SecretBytes> KeyVault::Unseal(std::span<const uint8_t> blob, std::string_view record_id) {
  CG_ASSIGN_OR_RETURN(uint32_t version, BlobKeyVersion(blob));
  std::shared_ptr<const MasterKeys> keys = Snapshot();
  std::string reload_problem;
  if (keys->Find(version) == nullptr && uses_file()) {
    // Perhaps another process rotated the key file: read it again, once. Under
    // the lock, another thread may have reloaded already.
    std::lock_guard lock(mu_);
    if (keys_->Find(version) == nullptr) {
      auto reloaded = ReloadLocked();
      if (!reloaded.ok()) reload_problem = "; reloading failed: " + reloaded.error().message;
    }
    keys = keys_;
  }
  const SecretBytes* key = keys->Find(version);
  if (key == nullptr) {
    return MakeError(ErrorCode::kMasterKeyUnknownVersion,
                     fmt::format("the sealed key of record {} needs master key version v{}, which "
                                 "is not loaded (loaded: {}){}",
                                 record_id, version, VersionList(*keys), reload_problem));
  }
  const size_t sealed_len = blob.size() - kPrefixBytes;
  SecretBytes plaintext(sealed_len - kTagBytes);
  std::vector<uint8_t> ad = AssociatedData(blob.first(kHeaderBytes), record_id);
  unsigned long long plain_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plaintext.data(), &plain_len, nullptr, blob.data() + kPrefixBytes, sealed_len, ad.data(),
          ad.size(), blob.data() + kHeaderBytes, key->data()) != 0 ||
      plain_len != plaintext.size()) {
    return MakeError(ErrorCode::kUnsealFailed,
                     fmt::format("the sealed key of record {} does not open: it was altered, "
                                 "belongs to another record or was sealed under another key",
                                 record_id));
  }
  return plaintext;
}

}  // namespace certgate::seal
