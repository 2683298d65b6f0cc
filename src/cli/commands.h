// Registration of the subcommand groups on the root CLI11 app. Each Add*
// function adds its subcommands and their callbacks; a callback reports a
// failure by throwing CommandFailed (exit code 1) after printing it.
#pragma once

#include <CLI/CLI.hpp>

#include <stdexcept>
#include <string>

#include "app/local_state.h"
#include "core/error.h"

namespace certgate::cli {

struct CommandFailed {
  int exit_code = 1;
};

// Prints "certgate: <message>" to stderr and throws CommandFailed.
[[noreturn]] void Die(const Error& error);
[[noreturn]] void Die(const std::string& message);

// --data-dir and --store on a subcommand.
void AddLocalOptions(CLI::App* cmd, app::LocalOptions& options);

void AddServeCommand(CLI::App& root);
void AddAdminCommands(CLI::App& root);
void AddCertCommands(CLI::App& root);
void AddDomainAndEndpointCommands(CLI::App& root);

}  // namespace certgate::cli
