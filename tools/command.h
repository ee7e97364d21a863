// The pneuma CLI is one executable with one subcommand per file (tools/cmd_<name>.cpp). A file registers its
// subcommand with a static RegisterCommand: `configure` adds the subcommand's options to the CLI11 app it is given
// and returns the function that runs it (capturing the parsed options), which returns the process exit code.
//
//   static pneuma::cli::RegisterCommand registration("info", "Print a model's layer table", [](CLI::App& app) {
//     auto options = std::make_shared<InfoOptions>();
//     app.add_option("model", options->model)->required();
//     return [options] { return run_info(*options); };
//   });
//
// Errors: throw pneuma::Error (or any std::exception); main prints one line "pneuma <command>: <message>" and
// exits with status 1.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace pneuma::cli {

using CommandRunner = std::function<int()>;
using CommandConfigurer = std::function<CommandRunner(CLI::App& subcommand)>;

struct Command {
  std::string name, description;
  CommandConfigurer configure;
};

std::vector<Command>& registered_commands();

struct RegisterCommand {
  RegisterCommand(std::string name, std::string description, CommandConfigurer configure) {
    registered_commands().push_back({std::move(name), std::move(description), std::move(configure)});
  }
};

}  // namespace pneuma::cli
