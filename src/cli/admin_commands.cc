// `certgate admin ...`: operations on the local store and master key, run on
// the machine that holds them.
#include <fmt/format.h>
#include <sodium.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "api/auth.h"
#include "app/bootstrap.h"
#include "app/domain_import.h"
#include "app/key_rotation.h"
#include "cli/api_commands.h"
#include "cli/commands.h"
#include "names/domain_name.h"
#include "pki/certificate.h"
#include "pki/private_key.h"
#include "seal/key_vault.h"
#include "store/postgres/pg_store.h"
#include "store/store.h"

namespace certgate::cli {
namespace {

app::LocalState OpenOrDie(const app::LocalOptions& options) {
  auto state = app::OpenLocal(options);
  if (!state) Die(state.error());
  return std::move(*state);
}

void AddAccountCommands(CLI::App* admin) {
  CLI::App* accounts = admin->add_subcommand("accounts", "Manage accounts");
  accounts->require_subcommand(1);
  struct Args {
    app::LocalOptions local;
    std::string name;
    std::string plan;
  };
  auto args = std::make_shared<Args>();
  CLI::App* create = accounts->add_subcommand("create", "Create an account; prints its id");
  AddLocalOptions(create, args->local);
  create->add_option("--name", args->name, "The account's name")->required();
  create->add_option("--plan", args->plan, "free or payg (pay-as-you-go: may upload certificates)")
      ->required()
      ->check(CLI::IsMember({"free", "payg"}));
  create->callback([args] {
    auto state = OpenOrDie(args->local);
    auto account = app::CreateAccount(*state.store, args->name, *store::ParsePlan(args->plan),
                                      SystemClock::Instance().Now());
    if (!account) Die(account.error());
    fmt::print("{}\n", account->id);
  });
}

void AddApiKeyCommands(CLI::App* admin) {
  CLI::App* keys = admin->add_subcommand("api-keys", "Manage API keys");
  keys->require_subcommand(1);
  struct Args {
    app::LocalOptions local;
    std::string account;
    std::string description;
  };
  auto args = std::make_shared<Args>();
  CLI::App* create = keys->add_subcommand(
      "create", "Create an API key for an account; prints the key, which is shown only once");
  AddLocalOptions(create, args->local);
  create->add_option("--account", args->account, "The account's id (acct_...)")->required();
  create->add_option("--description", args->description, "What the key is for");
  create->callback([args] {
    auto state = OpenOrDie(args->local);
    auto created = api::CreateApiKey(*state.store, args->account, args->description);
    if (!created) Die(created.error());
    fmt::print("{}\n", created->token);
  });
}

void AddMasterKeyCommands(CLI::App* admin) {
  CLI::App* keys = admin->add_subcommand("keys", "Manage the master key that seals private keys");
  keys->require_subcommand(1);
  auto local = std::make_shared<app::LocalOptions>();

  CLI::App* rotate = keys->add_subcommand(
      "rotate",
      "Add a new master key version and re-seal every private key under it. Safe while "
      "`certgate serve` runs; older versions stay in the key file so nothing becomes unreadable.");
  AddLocalOptions(rotate, *local);
  rotate->callback([local] {
    auto state = OpenOrDie(*local);
    auto source = seal::MasterKeySource::FromEnvironmentOr(state.data_dir / "master.key");
    auto report = app::RotateMasterKey(
        *state.store, *state.store, *state.vault, source, [](int64_t examined, int64_t resealed) {
          fmt::print(stderr, "rotate: examined {} keys, re-sealed {}\n", examined, resealed);
        });
    if (!report) Die(report.error());
    fmt::print("master key version {} is current; re-sealed {} keys", report->version,
               report->resealed);
    if (report->remaining_old > 0) {
      fmt::print("; {} keys written meanwhile are still under older versions: run rotate again",
                 report->remaining_old);
    }
    fmt::print("\n");
  });

  CLI::App* verify = keys->add_subcommand(
      "verify", "Open every sealed private key and check it matches its certificate");
  AddLocalOptions(verify, *local);
  verify->callback([local] {
    auto state = OpenOrDie(*local);
    int64_t ok = 0, bad = 0;
    std::optional<std::string> after;
    for (;;) {
      auto batch = state.store->ListSealedKeys(after, 500);
      if (!batch) Die(batch.error());
      for (const auto& ref : *batch) {
        auto problem = [&]() -> std::optional<std::string> {
          auto plain = state.vault->Unseal(ref.key.blob, ref.record_id);
          if (!plain) return plain.error().message;
          auto key = pki::DecodePrivateKeyDer(plain->span());
          if (!key) return key.error().message;
          // ACME account and provisioning job keys have no certificate yet.
          if (!ref.record_id.starts_with("cert_")) return std::nullopt;
          auto cert = state.store->GetCertificateById(ref.record_id);
          if (!cert) return cert.error().message;
          if (!*cert) return "the certificate disappeared while verifying";
          auto chain = pki::ParseStoredChain((*cert)->certificate_pem);
          if (!chain) return chain.error().message;
          auto match = pki::CheckKeyMatchesCertificate(key->get(), chain->leaf());
          if (!match) return match.error().message;
          return std::nullopt;
        }();
        if (problem) {
          ++bad;
          fmt::print(stderr, "{}: {}\n", ref.record_id, *problem);
        } else {
          ++ok;
        }
      }
      if (batch->size() < 500) break;
      after = batch->back().record_id;
    }
    fmt::print("{} keys verified, {} failed\n", ok, bad);
    if (bad > 0) throw CommandFailed{1};
  });

  CLI::App* generate = keys->add_subcommand(
      "generate",
      "Print a new random master key in base64, for CERTGATE_MASTER_KEY ('v<N>:<key>')");
  generate->callback([] {
    SecretBytes key(seal::kMasterKeyBytes);
    randombytes_buf(key.data(), key.size());
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
    fmt::print("{}\n", b64);
    sodium_memzero(b64, sizeof b64);
  });
}

std::string Describe(const store::NameRecord& r) {
  // Rows written around certgate may hold anything: never raw to the terminal.
  return fmt::format("{} ({}, account {})", TerminalSafe(r.name), TerminalSafe(r.id),
                     TerminalSafe(r.account_id));
}

void AddCheckCommand(CLI::App* admin) {
  auto local = std::make_shared<app::LocalOptions>();
  CLI::App* check = admin->add_subcommand(
      "check",
      "Report names that more than one account owns (domains that overlap across accounts, "
      "endpoints under another account's domain), left from before certgate refused them or "
      "written around it; exits 1 if there are any. Safe while `certgate serve` runs.");
  AddLocalOptions(check, *local);
  check->callback([local] {
    auto state = OpenOrDie(*local);
    store::NameOwnershipAudit* audit = store::AsNameOwnershipAudit(*state.store);
    if (audit == nullptr) {
      Die("this store's backend cannot check name ownership (it has no name ownership audit); "
          "nothing was checked");
    }
    auto report = audit->CheckNameOwnership();
    if (!report) Die(report.error());
    for (const store::NameOverlap& o : report->overlaps) {
      const bool endpoint = o.below.id.starts_with("ep_");
      fmt::print("overlap: {} owns {}{}\n", Describe(o.above),
                 endpoint ? "the host of endpoint " : "names of ", Describe(o.below));
    }
    for (const store::NameRecord& r : report->unindexed) {
      fmt::print("unindexed: {} has no name index key (written around certgate), so new names "
                 "below it are not checked against it; delete and reserve it again\n",
                 Describe(r));
    }
    const size_t problems = report->overlaps.size() + report->unindexed.size();
    fmt::print("checked {} domains and {} endpoints: {}\n", report->domains, report->endpoints,
               problems == 0 ? std::string("every name belongs to one account")
                             : fmt::format("{} overlaps, {} unindexed domains",
                                           report->overlaps.size(), report->unindexed.size()));
    if (problems > 0) throw CommandFailed{1};
  });
}

void AddDomainCommands(CLI::App* admin) {
  CLI::App* domains = admin->add_subcommand("domains", "Manage reserved domains in bulk");
  domains->require_subcommand(1);
  struct Args {
    app::LocalOptions local;
    app::DomainImportOptions import;
    std::string file;
  };
  auto args = std::make_shared<Args>();
  args->import.base_domain = "certgate.localhost";
  CLI::App* import = domains->add_subcommand(
      "import",
      "Reserve many domains for one account at once, straight into the store, one transaction "
      "per batch: FILE holds one name per line ('#' comments and blank lines are skipped; - "
      "reads standard input). Each name gets what POST /reserved_domains with only its name "
      "would give it (automatic certificates and a cname_target, or the service's certificate "
      "under --base-domain). Every line is checked before anything is written; names the "
      "account holds already are skipped, so an import that stopped can run again. Safe while "
      "`certgate serve` runs: it picks the names up from the store's change feed.");
  AddLocalOptions(import, args->local);
  import->add_option("--account", args->import.account_id, "The account's id (acct_...)")
      ->required();
  import->add_option("--base-domain", args->import.base_domain,
                     "The service's domain, as serve's --base-domain (cname targets go below it)")
      ->capture_default_str();
  import->add_option("--batch", args->import.batch_size,
                     "Names per transaction (1 to 100000; default 1000, or 200 on a PostgreSQL "
                     "store, where each batch holds the cluster's write lock and every node's "
                     "writes wait for it)");
  import->add_option("FILE", args->file, "The list of names, or - for standard input")->required();
  import->callback([args, import] {
    auto base = names::NormalizeDomain(args->import.base_domain);
    if (!base) Die(fmt::format("--base-domain: {}", base.error().message));
    args->import.base_domain = *base;
    std::ifstream file;
    if (args->file != "-") {
      file.open(args->file);
      if (!file) Die(fmt::format("cannot open {}", args->file));
    }
    std::istream& in = args->file == "-" ? std::cin : file;
    auto state = OpenOrDie(args->local);
    if (import->count("--batch") == 0 && store::PostgresConninfo(*state.store)) {
      args->import.batch_size = 200;  // about 0.1 s under the lock at a time
    }
    auto report = app::ImportDomains(
        *state.store, *state.store, in, args->import, SystemClock::Instance().Now(),
        [](const app::DomainImportReport& r) {
          fmt::print(stderr, "{} of {} names done ({} new, {} held already)\n",
                     r.inserted + r.already_reserved, r.names, r.inserted, r.already_reserved);
        });
    if (!report) Die(report.error());
    fmt::print("imported {} names for {}: {} new, {} held already\n", report->names,
               args->import.account_id, report->inserted, report->already_reserved);
  });
}

}  // namespace

void AddAdminCommands(CLI::App& root) {
  CLI::App* admin = root.add_subcommand(
      "admin", "Operate on the local store and master key directly (same --data-dir as serve)");
  admin->require_subcommand(1);
  AddAccountCommands(admin);
  AddApiKeyCommands(admin);
  AddMasterKeyCommands(admin);
  AddCheckCommand(admin);
  AddDomainCommands(admin);
}

}  // namespace certgate::cli
