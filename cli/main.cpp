// berth: one executable with subcommands; `berth --help` lists them.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "docker/client.hpp"
#include "fcgi/proctitle.hpp"

namespace {

constexpr const char* kUsage =
    "usage: berth COMMAND [--config PATH] [options]\n"
    "\n"
    "Gives every logged-in user a dedicated, throw-away Docker container.\n"
    "\n"
    "commands:\n"
    "  serve     run the FastCGI pool (master and workers) in the foreground\n"
    "  sweep     reconcile sessions with the engine once: remove orphans, reap idle sessions\n"
    "  list      print every session of the pool\n"
    "  reap      destroy one user's session and container\n"
    "  version   print berth's version\n"
    "\n"
    "options for every command:\n"
    "  --config PATH   config file (default /etc/berth/berth.conf)\n"
    "  --help          help for the command\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  berth::fcgi::initProcessTitle(argc, argv);

  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }

  const std::string command = args[0];
  args.erase(args.begin());
  berth::docker::globalInit();

  if (command == "serve") return berth::cli::serve(args);
  if (command == "sweep") return berth::cli::sweep(args);
  if (command == "list") return berth::cli::list(args);
  if (command == "reap") return berth::cli::reap(args);
  if (command == "version" || command == "--version") {
    std::puts("berth " BERTH_VERSION);
    return 0;
  }
  std::fprintf(stderr, "berth: unknown command \"%s\"\n\n%s", command.c_str(), kUsage);
  return 2;
}
