#include "app/local_state.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <vector>

#include "app/master_key_check.h"
#include "core/ids.h"

namespace certgate::app {
namespace {

// The file a sqlite: store URL names ("sqlite:/x", "sqlite:x", "sqlite:///x"),
// or nullopt for other URLs; store::OpenStore refuses the malformed ones.
std::optional<std::filesystem::path> SqliteFileOf(std::string_view url) {
  constexpr std::string_view kScheme = "sqlite:";
  if (url.size() < kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(url[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view path = url.substr(kScheme.size());
  if (path.starts_with("///")) path.remove_prefix(2);
  if (path.empty() || path.starts_with("//")) return std::nullopt;
  return std::filesystem::path(std::string(path));
}

// Takes group and other permissions off `path` (the data directory, the
// database: they hold sealed keys and API key hashes) when it has any. A
// path of ours is fixed and described in `fixed`; one owned by another user
// cannot be, and is refused: certgate would be trusting a file that user can
// change or has let others read. A missing path is fine (it is created
// private).
Result<void> RestrictToOwner(const std::filesystem::path& path, std::string_view what,
                             std::vector<std::string>& fixed) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return MakeError(ErrorCode::kIo, fmt::format("cannot check the permissions of the {} {}: {}",
                                                 what, path.string(), std::strerror(errno)));
  }
  const mode_t mode = st.st_mode & 07777;
  if ((mode & 077) == 0) return {};
  if (st.st_uid != ::geteuid()) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("the {} {} may be used by others (mode {:04o}) and belongs to "
                                 "user id {}, not to certgate's user ({}), so certgate cannot "
                                 "fix it: as its owner, run `chmod go= {}`, or give certgate its "
                                 "own {}",
                                 what, path.string(), mode, st.st_uid, ::geteuid(), path.string(),
                                 what));
  }
  const mode_t narrowed = mode & ~static_cast<mode_t>(077);
  if (::chmod(path.c_str(), narrowed) != 0) {
    return MakeError(ErrorCode::kIo,
                     fmt::format("the {} {} may be used by others (mode {:04o}) and certgate "
                                 "cannot change that: {}; run `chmod go= {}`",
                                 what, path.string(), mode, std::strerror(errno), path.string()));
  }
  fixed.push_back(fmt::format("{} {} from {:04o} to {:04o}", what, path.string(), mode, narrowed));
  return {};
}

Result<std::string> ReadNodeId(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string id;
  if (!in || !std::getline(in, id)) {
    return MakeError(ErrorCode::kIo, fmt::format("cannot read the node id {}", file.string()));
  }
  if (!IsValidId("node", id)) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("{} does not hold a node id; remove it and certgate makes a "
                                 "new one",
                                 file.string()));
  }
  return id;
}

// The node id in <data_dir>/node-id, made on first use. It is written to a
// temporary file and linked into place, so two processes starting at once
// agree on one id, and none ever reads a half-written file.
Result<std::string> LoadOrCreateNodeId(const std::filesystem::path& data_dir) {
  const std::filesystem::path file = data_dir / "node-id";
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) return ReadNodeId(file);
  const std::filesystem::path temp =
      data_dir / fmt::format("node-id.{}.tmp", static_cast<long>(::getpid()));
  const std::string line = NewId("node") + "\n";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return MakeError(ErrorCode::kIo, fmt::format("cannot create {}: {}", temp.string(),
                                                 std::strerror(errno)));
  }
  const bool written = ::write(fd, line.data(), line.size()) ==
                           static_cast<ssize_t>(line.size()) &&
                       ::fsync(fd) == 0;
  const int write_errno = errno;
  ::close(fd);
  if (!written) {
    ::unlink(temp.c_str());
    return MakeError(ErrorCode::kIo, fmt::format("cannot write {}: {}", temp.string(),
                                                 std::strerror(write_errno)));
  }
  const bool linked = ::link(temp.c_str(), file.c_str()) == 0;
  const int link_errno = errno;
  ::unlink(temp.c_str());
  if (!linked && link_errno != EEXIST) {
    return MakeError(ErrorCode::kIo, fmt::format("cannot create {}: {}", file.string(),
                                                 std::strerror(link_errno)));
  }
  return ReadNodeId(file);  // ours, or the one another process linked first
}

}  // namespace

std::filesystem::path DefaultDataDir() {
  if (const char* env = std::getenv("CERTGATE_DATA_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return "certgate-data";
}

Result<LocalState> OpenLocal(const LocalOptions& options) {
  LocalState state;
  state.data_dir = options.data_dir.empty() ? DefaultDataDir() : options.data_dir;
  if (::mkdir(state.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return MakeError(ErrorCode::kIo, fmt::format("cannot create the data directory {}: {}",
                                                 state.data_dir.string(), std::strerror(errno)));
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(state.data_dir, ec)) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("--data-dir {} is not a directory", state.data_dir.string()));
  }
  std::string url = options.store_url.empty()
                        ? "sqlite:" + (state.data_dir / "certgate.db").string()
                        : options.store_url;
  std::vector<std::string> fixed;
  CG_RETURN_IF_ERROR(RestrictToOwner(state.data_dir, "data directory", fixed));
  if (auto db = SqliteFileOf(url)) {
    CG_RETURN_IF_ERROR(RestrictToOwner(*db, "database", fixed));
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
      CG_RETURN_IF_ERROR(RestrictToOwner(db->string() + suffix, "database file", fixed));
    }
  }
  if (!fixed.empty()) {
    std::string list;
    for (const auto& f : fixed) list += (list.empty() ? "" : "; ") + f;
    spdlog::warn("others could use certgate's files; fixed their permissions: {}", list);
  }
  CG_ASSIGN_OR_RETURN(
      state.vault,
      seal::KeyVault::Open(seal::MasterKeySource::FromEnvironmentOr(state.data_dir / "master.key")));
  CG_ASSIGN_OR_RETURN(state.node_id, LoadOrCreateNodeId(state.data_dir));
  auto opened = store::OpenStore(url);
  if (!opened) {
    Error e = std::move(opened).error();
    if (e.code == ErrorCode::kStoreUrlInvalid) e.message = "--store: " + e.message;
    return e;
  }
  state.store = std::move(*opened);
  // Before anything is sealed or opened: a node of a cluster started with
  // another master key must stop here, not write keys the others cannot open.
  const std::string key_source =
      std::getenv(seal::kMasterKeyEnv) != nullptr
          ? std::string("CERTGATE_MASTER_KEY")
          : fmt::format("the master key file {}", (state.data_dir / "master.key").string());
  CG_RETURN_IF_ERROR(VerifyMasterKey(*state.store, *state.store, *state.vault, key_source));
  return state;
}

}  // namespace certgate::app
