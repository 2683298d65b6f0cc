#include "acme/acme_options.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>
#include <unistd.h>

#include "common/flag_reader.h"

namespace certgate::bench::acme {
namespace {

constexpr char kHelp[] =
    R"(acme_bench: time to issue certificates for N domains created at once,
certgate vs lego (Debian), against the same local Pebble

Each round starts, for every tool in turn, a fresh Pebble (PEBBLE_VA_NOSLEEP=1,
5% badNonce), pebble-challtestsrv (the customer's DNS for customer.test) and
unbound (stub zones for customer.test and certgate.test), all on 127.0.0.1;
validation is real HTTP-01. The names are new each round
("b<round>-<i>-<random>.customer.test") and the same for every tool of a round.

  certgate   `certgate serve` (fresh data dir) gets the names through
             POST /reserved_domains (managed, ECDSA), each name's CNAME set at
             the customer's DNS right after its creation returns; timed from
             the first POST until GET /reserved_domains shows a certificate on
             every name (polled every 50 ms). A job that checks a CNAME before
             it is set retries (--acme-retry-min); unbound keeps challtestsrv's
             negative answer 5 s, so those domains take ~7 s more.
  certgate-ready  the domains exist already (no policy) and their CNAMEs are
             set before the clock starts; timed from the first PATCH that turns
             the managed policy on: the ACME work alone, as lego is measured.
  lego-each  the customer's DNS gets an A record per name, then one `lego run`
             per name, one after another (one account); timed from the first
             DNS change until the last lego exits.
  lego-one   the same, with one `lego run` for one certificate with every name.

Tools run interleaved within a round (the order rotates each round); the
table shows medians: seconds for all names, seconds per name, names per
second, client CPU seconds, certgate's retried steps, steal; then the ratios
certgate/lego of the times. Every certificate is verified (chain to Pebble's
root, name) after the clock stops; a missing one makes the exit status 1.

Options:
  --rounds=N            interleaved rounds, medians over them (default 3, at least 1)
  --names=N             domains per round (default 20, 1..100)
  --acme-concurrency=N  certgate serve --acme-concurrency (default 8)
  --acme-retry-min=S    certgate serve --acme-retry-min (default 1; certgate's own is 10)
  --only=LIST           tools among certgate,certgate-ready,lego-each,lego-one
                        (default all)
  --timeout=S           give up on a tool's round after S seconds (default 900)
  --certgate=PATH       certgate binary (default: this build tree's src/cli/certgate)
  --lego=PATH           lego binary (default /usr/bin/lego)
  --keep-temp           keep the work dir (certgate data and logs, lego --path and
                        logs); a failed run keeps it and prints where
  --help                this text

Needs Debian's pebble, lego and unbound (scripts/deps.sh installs the test peers).
One round takes about 4 minutes with 20 names, nearly all of it lego's.
)";

[[noreturn]] void BadFlag(const std::string& message) { throw std::invalid_argument(message); }

int IntValue(std::string_view name, std::string_view v, int min, int max) {
  const int n = WholeNumber(name, v);
  if (n < min || n > max)
    BadFlag(fmt::format("{} must be from {} to {}, not {}", name, min, max, n));
  return n;
}

}  // namespace

std::string_view ToolKey(Tool t) {
  switch (t) {
    case Tool::kCertgate:
      return "certgate";
    case Tool::kCertgateReady:
      return "certgate-ready";
    case Tool::kLegoEach:
      return "lego-each";
    case Tool::kLegoOne:
      return "lego-one";
  }
  return "?";
}

std::string ToolLabel(Tool t, const Options& o) {
  switch (t) {
    case Tool::kCertgate:
      return fmt::format("certgate ({} orders at once)", o.acme_concurrency);
    case Tool::kCertgateReady:
      return "certgate, CNAMEs in place";
    case Tool::kLegoEach:
      return fmt::format("lego, {} runs in a row", o.names);
    case Tool::kLegoOne:
      return fmt::format("lego, 1 run, 1 cert, {} names", o.names);
  }
  return "?";
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  FlagReader flags(argc, argv);
  while (flags.Next()) {
    const std::string_view key = flags.key();
    if (key == "--help" || key == "-h") {
      std::fputs(kHelp, stdout);
      std::exit(0);
    } else if (key == "--rounds") {
      o.rounds = IntValue(key, flags.Value(), 1, 1000);
    } else if (key == "--names") {
      o.names = IntValue(key, flags.Value(), 1, 100);
    } else if (key == "--acme-concurrency") {
      o.acme_concurrency = IntValue(key, flags.Value(), 1, 256);
    } else if (key == "--acme-retry-min") {
      o.acme_retry_min = IntValue(key, flags.Value(), 1, 86400);
    } else if (key == "--timeout") {
      o.timeout_seconds = IntValue(key, flags.Value(), 10, 86400);
    } else if (key == "--only") {
      o.tools.clear();
      for (const std::string& item : SplitList(flags.Value())) {
        auto it = std::find_if(kAllTools.begin(), kAllTools.end(),
                               [&](Tool t) { return ToolKey(t) == item; });
        if (it == kAllTools.end()) {
          BadFlag(fmt::format(
              "--only: unknown tool '{}'; use certgate,certgate-ready,lego-each,lego-one", item));
        }
        if (std::find(o.tools.begin(), o.tools.end(), *it) == o.tools.end()) o.tools.push_back(*it);
      }
      if (o.tools.empty()) BadFlag("--only needs at least one tool");
      // Keep the table's order whatever order the flag gave.
      std::sort(o.tools.begin(), o.tools.end());
    } else if (key == "--certgate") {
      o.certgate = flags.Value();
    } else if (key == "--lego") {
      o.lego = flags.Value();
    } else if (key == "--keep-temp") {
      flags.NoValue();
      o.keep_temp = true;
    } else {
      BadFlag(fmt::format("unknown option '{}'", flags.arg()));
    }
  }
  for (const std::string* path : {&o.certgate, &o.lego}) {
    if (::access(path->c_str(), X_OK) != 0) {
      BadFlag(fmt::format("'{}' is not an executable file", *path));
    }
  }
  return o;
}

}  // namespace certgate::bench::acme
