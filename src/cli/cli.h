// The `certgate` command line: serve, admin (on the local store) and the
// API client commands. Main returns the process exit code: 0 success, 1 a
// failure that was reported, 2 a usage error.
#pragma once

namespace certgate::cli {

int Main(int argc, char** argv);

}  // namespace certgate::cli
