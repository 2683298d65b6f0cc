#include "cli/yaml_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace certgate::cli {

std::string YamlConfig::to_config(const CLI::App* app, bool default_also, bool, std::string) const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const CLI::Option* opt : app->get_options()) {
    if (opt->get_lnames().empty() || !opt->get_configurable()) continue;
    std::vector<std::string> values = opt->reduced_results();
    if (values.empty() && default_also && !opt->get_default_str().empty()) {
      values.push_back(opt->get_default_str());
    }
    if (values.empty()) continue;
    out << YAML::Key << opt->get_lnames().front() << YAML::Value;
    if (values.size() == 1) {
      out << values.front();
    } else {
      out << YAML::Flow << values;
    }
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<CLI::ConfigItem> YamlConfig::from_config(std::istream& input) const {
  auto selected = root_->get_subcommands();
  if (selected.empty() || selected.front()->get_name() != "serve") {
    throw CLI::ConversionError("--config applies to `certgate serve` only");
  }
  YAML::Node root;
  try {
    root = YAML::Load(input);
  } catch (const YAML::Exception& e) {
    throw CLI::ConversionError("config file is not valid YAML: " + e.msg + " at line " +
                               std::to_string(e.mark.line + 1));
  }
  std::vector<CLI::ConfigItem> result;
  if (root.IsNull()) return result;
  if (!root.IsMap()) throw CLI::ConversionError("config file must be a YAML mapping of flag: value");
  for (const auto& entry : root) {
    CLI::ConfigItem item;
    item.parents = {"serve"};
    item.name = entry.first.as<std::string>();
    std::replace(item.name.begin(), item.name.end(), '_', '-');
    const YAML::Node& value = entry.second;
    if (value.IsScalar()) {
      item.inputs.push_back(value.as<std::string>());
    } else if (value.IsSequence()) {
      for (const auto& v : value) {
        if (!v.IsScalar()) {
          throw CLI::ConversionError("config key '" + item.name + "' must list plain values");
        }
        item.inputs.push_back(v.as<std::string>());
      }
    } else {
      throw CLI::ConversionError("config key '" + item.name + "' must be a value or a list");
    }
    result.push_back(std::move(item));
  }
  return result;
}

}  // namespace certgate::cli
