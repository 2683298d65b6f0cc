#include "cluster/cluster_options.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "common/flag_reader.h"

namespace certgate::bench::cluster {
namespace {

constexpr char kHelp[] =
    R"(cluster_bench: a certgate cluster on one PostgreSQL: start-up and change -> served

For each N of --names, --nodes `certgate serve` processes (default 3), each
with its own data dir (its node id) and the same master key
(CERTGATE_MASTER_KEY, from `certgate admin keys generate`), all with --store
set to one database of a PostgreSQL this program starts itself
(tests/support/pg_test_cluster.sh on a fresh /tmp dir: unix socket only),
then configured for durability: synchronous_commit on, fsync on,
full_page_writes on (--no-fsync turns the last two off), and autovacuum on.
Each N gets a database of its own.

Preparing a database: node 1 starts alone on it (making the schema, the
default certificate and the first account, whose API key it prints), the
certificates are uploaded through its API (*.bench.example and four
*.chg.bench.example leaves, ECDSA P-256 from a local CA), and it stops. Then
the N names go in by a direct store load, each domain what POST
/reserved_domains {"domain", "certificate_id"} stores (a fresh id, the
API's defaults from api::SetDomainDefaults: a cname_target; name_key from
store::NameKey; certificate: the wildcard), then VACUUM ANALYZE, as
autovacuum would after a bulk load:
  --load=copy   (default) the rows written to a CSV file and COPYed into
                reserved_domains by psql in one transaction; the table's
                triggers put every row in the change feed as for any insert,
                but the store's name ownership checks are skipped (the names
                are distinct and all of one account), as scale_bench's
                SQLite load skips them
  --load=store  through the store API: store::OpenStore on the database and
                DomainStore::InsertDomains, --batch names a transaction, every
                check made: the path `certgate admin domains import` takes.
                A few hundred to a thousand names a second here (each name
                is several statements, and writes are serialized by the
                cluster's write lock): 100,000 names take minutes
Not `certgate admin domains import` itself: it gives each name automatic
certificates (ACME orders on every node) or, under the base domain, the
service's certificate, which a handshake cannot tell from the default one.

Measured, the nodes pinned to --server-cpu with --edge-workers 1 (PostgreSQL
too), this program on --client-cpu:

  start -> serving   all nodes launched at once (a cold cluster start), each
                     timed from the launch until a TLS handshake on its edge
                     with SNI of the last loaded name serves the wildcard (its
                     serial checked; one probe thread per node, 2 ms apart);
                     median of --rounds starts, with the slowest round, and
                     the node's CPU seconds once every node served
  change -> served   POST /reserved_domains for a fresh name under
                     chg.bench.example with one of the change certificates
                     (in turn), through each node's API in turn, timed from
                     the 201 until each node's edge serves that certificate
                     for that name (a probe thread per node, handshakes 5 ms
                     apart: a resolution of about 5 to 7 ms); per node, the
                     node that took the write, the others, and per change
                     the slowest node: p50 and p99 of --changes changes,
                     after one unmeasured change per certificate. After each
                     change a pause of --change-gap-ms on average (uniform
                     from half to 1.5 times), so that the changes alone are
                     a trickle, not a load of their own, and fall at every
                     phase of the nodes' 250 ms poll
  under load         the same while --load-writes API writes a second go to
                     the nodes (one keep-alive client per node, on a fixed
                     schedule: a create of a name on the wildcard, then its
                     delete); the rate achieved and the writes' API latency
                     are printed beside it

Targets (printed beside the figures): change -> served p99 <= 100 ms to the
slowest node; start -> serving <= 2 s with 100,000 names.

Options:
  --names=LIST          name counts (default 10000,100000)
  --nodes=N             nodes (default 3)
  --rounds=N            cluster starts per count (default 3)
  --changes=N           change -> served samples per count, alone and under
                        load each (default 200)
  --change-gap-ms=N     mean pause after each change (default 100)
  --load-writes=N       background writes a second (default 50; 0: no
                        under-load phase)
  --load=copy|store     how the names go in (default copy; see above)
  --batch=N             names per transaction with --load=store (default 5000)
  --no-fsync            PostgreSQL with fsync and full_page_writes off
                        (synchronous_commit stays on)
  --certgate=PATH       certgate binary (default: this build tree's)
  --serve-arg=ARG       one more argument for every `certgate serve` (repeatable)
  --server-cpu=N        cpu for the nodes and PostgreSQL (default 0; -1: none
                        pinned, and the edges get their default workers)
  --client-cpu=N        cpu for this program (default 1; -1: not pinned)
  --keep-temp           keep the temp dir (data dirs, logs); a failed run keeps it
  --help                this text

The default run (10,000 and 100,000 names, 3 rounds, 200 changes twice)
takes about 3 minutes on 2 cpus. Progress goes to stderr, the table to stdout.
)";

int IntValue(std::string_view name, std::string_view text, int min) {
  const int n = WholeNumber(name, text);
  if (n < min) throw std::invalid_argument(fmt::format("{} must be at least {}", name, min));
  return n;
}

}  // namespace

Options ParseOptions(int argc, char** argv) {
  Options o;
  FlagReader flags(argc, argv);
  while (flags.Next()) {
    const std::string_view key = flags.key();
    if (key == "--help" || key == "-h") {
      std::fputs(kHelp, stdout);
      std::exit(0);
    } else if (key == "--names") {
      o.names.clear();
      for (const std::string& item : SplitList(flags.Value())) {
        const int n = IntValue(key, item, 1);
        if (std::find(o.names.begin(), o.names.end(), n) == o.names.end()) o.names.push_back(n);
      }
      if (o.names.empty()) throw std::invalid_argument("--names needs at least one count");
      std::sort(o.names.begin(), o.names.end());
    } else if (key == "--nodes") {
      o.nodes = IntValue(key, flags.Value(), 2);
    } else if (key == "--rounds") {
      o.rounds = IntValue(key, flags.Value(), 1);
    } else if (key == "--changes") {
      o.changes = IntValue(key, flags.Value(), 1);
    } else if (key == "--change-gap-ms") {
      o.change_gap_ms = IntValue(key, flags.Value(), 0);
    } else if (key == "--load-writes") {
      o.load_writes = IntValue(key, flags.Value(), 0);
    } else if (key == "--load") {
      const std::string_view how = flags.Value();
      if (how != "copy" && how != "store") {
        throw std::invalid_argument("--load is copy or store");
      }
      o.copy_load = how == "copy";
    } else if (key == "--batch") {
      o.batch = IntValue(key, flags.Value(), 1);
    } else if (key == "--no-fsync") {
      flags.NoValue();
      o.fsync = false;
    } else if (key == "--certgate") {
      o.certgate = flags.Value();
    } else if (key == "--serve-arg") {
      o.serve_args.emplace_back(flags.Value());
    } else if (key == "--server-cpu") {
      o.server_cpu = IntValue(key, flags.Value(), -1);
    } else if (key == "--client-cpu") {
      o.client_cpu = IntValue(key, flags.Value(), -1);
    } else if (key == "--keep-temp") {
      flags.NoValue();
      o.keep_temp = true;
    } else {
      throw std::invalid_argument(fmt::format("unknown option '{}' (see --help)", flags.arg()));
    }
  }
  return o;
}

}  // namespace certgate::bench::cluster
