// Entry point of the pneuma CLI: collects the registered subcommands (see command.h), parses the command line and
// turns any error into one line on stderr and a non-zero exit.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <map>
#include <string>

#include "tools/command.h"

namespace pneuma::cli {
std::vector<Command>& registered_commands() {
  static std::vector<Command> commands;
  return commands;
}
}  // namespace pneuma::cli

int main(int argc, char** argv) {
  using namespace pneuma::cli;
  CLI::App app{"pneuma: train, evaluate and run image classifiers (MobileNetV2, EfficientNet, EfficientNetV2)"};
  app.require_subcommand(1, 1);
  auto commands = registered_commands();
  std::sort(commands.begin(), commands.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
  std::map<std::string, CommandRunner> runners;
  for (const Command& command : commands) {
    CLI::App* subcommand = app.add_subcommand(command.name, command.description);
    runners[command.name] = command.configure(*subcommand);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  const std::string name = app.get_subcommands().front()->get_name();
  try {
    return runners.at(name)();
  } catch (const std::exception& error) {
    std::string message = error.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::fprintf(stderr, "pneuma %s: error: %s\n", name.c_str(), message.c_str());
    return 1;
  }
}
