// Reads certgate's YAML config file for CLI11: each top-level key is the long
// name of a `certgate serve` flag ("api-listen: 127.0.0.1:4280"; underscores
// work too), a sequence gives a repeatable flag several values, and a value
// must be a scalar or a sequence of scalars.
//
// CLI11 reads config files only for the root app, so --config lives there and
// `serve` falls through to it; the items are addressed to `serve`, and using
// --config with another command is an error.
#pragma once

#include <CLI/CLI.hpp>

namespace certgate::cli {

class YamlConfig final : public CLI::Config {
 public:
  // root: the app whose selected subcommand the file configures.
  explicit YamlConfig(const CLI::App* root) : root_(root) {}
  std::string to_config(const CLI::App* app, bool default_also, bool write_description,
                        std::string prefix) const override;
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;

 private:
  const CLI::App* root_;
};

}  // namespace certgate::cli
