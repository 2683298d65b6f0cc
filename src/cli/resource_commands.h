// The commands every API resource shares: list (a table, or --json), get and
// delete, for certs, domains and endpoints alike.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "cli/api_commands.h"

namespace certgate::cli {

struct ResourceSpec {
  std::string collection;  // "tls_certificates": the API path and the list's JSON key
  std::string noun;        // "certificate", for help texts
  std::string id_hint;     // "cert_..."
  // Table columns: header and JSON field ("certificate.id" reaches into objects).
  std::vector<std::pair<std::string, std::string>> columns;
  std::string empty_hint;  // printed under an empty table
};

void AddListGetDelete(CLI::App* group, std::shared_ptr<ApiConnection> conn,
                      const ResourceSpec& spec);

// Reads a file, or stdin for "-", refusing anything over 1 MiB; flag names
// the option in messages.
std::string ReadInput(const std::string& path, std::string_view flag);

// Optional string flags that become JSON fields when given.
void SetIfGiven(boost::json::object& body, std::string_view key,
                const std::optional<std::string>& value);

}  // namespace certgate::cli
