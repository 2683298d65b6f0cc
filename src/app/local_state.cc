#include "app/local_state.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace certgate::app {

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
  CG_ASSIGN_OR_RETURN(
      state.vault,
      seal::KeyVault::Open(seal::MasterKeySource::FromEnvironmentOr(state.data_dir / "master.key")));
  std::string url = options.store_url.empty()
                        ? "sqlite:" + (state.data_dir / "certgate.db").string()
                        : options.store_url;
  auto opened = store::OpenStore(url);
  if (!opened) {
    Error e = std::move(opened).error();
    if (e.code == ErrorCode::kStoreUrlInvalid) e.message = "--store: " + e.message;
    return e;
  }
  state.store = std::move(*opened);
  return state;
}

}  // namespace certgate::app
