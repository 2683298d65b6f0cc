#include "cli/cli.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "app/json_log.h"
#include "cli/commands.h"
#include "cli/yaml_config.h"

namespace certgate::cli {

void Die(const Error& error) { Die(error.message); }

void Die(const std::string& message) {
  fmt::print(stderr, "certgate: {}\n", message);
  throw CommandFailed{};
}

void AddLocalOptions(CLI::App* cmd, app::LocalOptions& options) {
  cmd->add_option("--data-dir", options.data_dir,
                  "Directory for the embedded store and the master key "
                  "(default: $CERTGATE_DATA_DIR, else ./certgate-data)");
  cmd->add_option("--store", options.store_url,
                  "Store URL: sqlite:/var/lib/certgate/certgate.db (one node), or a PostgreSQL "
                  "database that every node of a cluster shares: postgresql://user@host/db, "
                  "postgres://..., or \"host=/run/postgresql dbname=certgate\" (default: "
                  "sqlite:<data-dir>/certgate.db). Also $CERTGATE_STORE")
      ->envname("CERTGATE_STORE");
}

int Main(int argc, char** argv) {
  CLI::App root{
      "certgate: a self-hosted TLS certificate manager and TLS-terminating edge.\n"
      "Run `certgate serve` to start; `certgate <command> --help` for a command's flags."};
  root.name("certgate");
  root.set_version_flag("--version", "certgate 0.1.0");
  root.require_subcommand(1);
  root.config_formatter(std::make_shared<YamlConfig>(&root));
  root.set_config("--config", "",
                  "YAML config file for `certgate serve`: one 'flag-name: value' per line")
      ->check(CLI::ExistingFile);
  root.allow_config_extras(CLI::config_extras_mode::error);
  std::string log_level = "info";
  root.add_option("--log-level", log_level, "Log level: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  std::string log_format = "text";
  root.add_option("--log-format", log_format,
                  "Log lines as text, or as one JSON object each (time, level, component, "
                  "message, operation_id) for log shippers")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  AddServeCommand(root);
  AddAdminCommands(root);
  AddCertCommands(root);
  AddDomainAndEndpointCommands(root);

  auto logger = spdlog::stderr_color_mt("certgate");
  spdlog::set_default_logger(logger);
  root.parse_complete_callback([&] {
    spdlog::set_level(spdlog::level::from_str(log_level));
    if (log_format == "json") logger->set_formatter(std::make_unique<app::JsonLogFormatter>());
  });

  try {
    root.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (or the help); any usage error exits with 2.
    return root.exit(e) == 0 ? 0 : 2;
  } catch (const CommandFailed& failed) {
    return failed.exit_code;
  }
  return 0;
}

}  // namespace certgate::cli
