#include "cli/commands.hpp"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>

#include "common/log.hpp"
#include "common/process.hpp"
#include "config/config.hpp"
#include "fcgi/master.hpp"
#include "lifecycle/sweep.hpp"
#include "lifecycle/workspaces.hpp"
#include "shm/segment.hpp"

namespace berth::cli {
namespace {

struct Options {
  std::string config_path = config::kDefaultPath;
  bool dry_run = false;
  bool help = false;
  std::vector<std::string> positional;
};

// Parses the options every command shares; `allow_dry_run` adds --dry-run.
// Returns nullopt after printing a usage error.
std::optional<Options> parseOptions(const std::vector<std::string>& args, bool allow_dry_run) {
  Options options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else if (arg == "--config" && i + 1 < args.size()) {
      options.config_path = args[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      options.config_path = arg.substr(9);
    } else if (arg == "--dry-run" && allow_dry_run) {
      options.dry_run = true;
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "berth: unknown or incomplete option \"%s\"; see --help\n", arg.c_str());
      return std::nullopt;
    } else {
      options.positional.push_back(arg);
    }
  }
  return options;
}

std::optional<config::Config> loadConfig(const Options& options) {
  try {
    return config::load(options.config_path);
  } catch (const config::ConfigError& error) {
    std::fprintf(stderr, "berth: %s\n", error.what());
    return std::nullopt;
  }
}

// Opens the pool's segment for a command that runs beside the pool. Returns
// null when the segment is lost: missing, or left by a master that died.
// Throws shm::SegmentError for a segment that cannot be read.
std::unique_ptr<shm::Segment> openLiveSegment(const config::Config& config) {
  if (::access(("/dev/shm/" + config.segment).c_str(), F_OK) != 0) return nullptr;
  auto segment = shm::Segment::open({config.segment, config.port_min, config.port_max});
  const auto [pid, start_time] = segment->owner();
  if (pid == 0 || processStartTime(pid) != start_time) return nullptr;
  return segment;
}

// A command's help text and the arguments it takes.
struct CommandSpec {
  const char* usage;
  bool allow_dry_run;
  std::size_t positional;  // arguments besides options
};

constexpr CommandSpec kServe{
    "usage: berth serve [--config PATH]\n\n"
    "Runs the FastCGI pool in the foreground: a master (process title\n"
    "\"berth: master\") and its workers (\"berth: worker N\"). SIGTERM, SIGINT\n"
    "or SIGHUP stops it and destroys every container of the pool.\n",
    false, 0};

constexpr CommandSpec kSweep{
    "usage: berth sweep [--config PATH] [--dry-run]\n\n"
    "Reconciles the pool's sessions with the engine once, from one list call:\n"
    "removes containers without a session, drops sessions whose container is\n"
    "gone, reaps sessions idle longer than idle_timeout or older than\n"
    "max_lifetime, and reclaims starts of dead workers. With no live pool,\n"
    "every container of the pool is an orphan. --dry-run only prints what it\n"
    "would do. Exits 1 when an action or the list call failed.\n",
    true, 0};

constexpr CommandSpec kList{
    "usage: berth list [--config PATH]\n\nPrints every session of the running pool.\n", false, 0};

constexpr CommandSpec kReap{
    "usage: berth reap USER [--config PATH]\n\n"
    "Destroys USER's session and container, as a logout does.\n",
    false, 1};

// A parsed command line with its loaded config.
struct Invocation {
  Options options;
  config::Config config;
};

// Parses the arguments and loads the config. Returns nullopt after printing
// the help (exit_code 0) or a usage or config error (exit_code 2).
std::optional<Invocation> prepare(const std::vector<std::string>& args, const CommandSpec& spec,
                                  int& exit_code) {
  exit_code = 2;
  auto options = parseOptions(args, spec.allow_dry_run);
  if (!options) return std::nullopt;
  if (options->help) {
    std::fputs(spec.usage, stdout);
    exit_code = 0;
    return std::nullopt;
  }
  if (options->positional.size() != spec.positional) {
    std::fprintf(stderr, "berth: expected %zu argument(s), got %zu\n\n%s", spec.positional,
                 options->positional.size(), spec.usage);
    return std::nullopt;
  }
  auto config = loadConfig(*options);
  if (!config) return std::nullopt;
  return Invocation{std::move(*options), std::move(*config)};
}

// Like openLiveSegment, but prints why there is no running pool.
std::unique_ptr<shm::Segment> openRunningPool(const config::Config& config) {
  auto segment = openLiveSegment(config);
  if (!segment) {
    std::fprintf(stderr, "berth: no pool is running with segment %s\n", config.segment.c_str());
  }
  return segment;
}

std::string formatTime(std::int64_t unix_seconds) {
  char text[32];
  const std::time_t time = unix_seconds;
  std::tm parts{};
  gmtime_r(&time, &parts);
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

}  // namespace

int serve(const std::vector<std::string>& args) {
  int exit_code = 0;
  const auto invocation = prepare(args, kServe, exit_code);
  if (!invocation) return exit_code;
  return fcgi::runMaster(invocation->config);
}

int sweep(const std::vector<std::string>& args) {
  int exit_code = 0;
  const auto invocation = prepare(args, kSweep, exit_code);
  if (!invocation) return exit_code;
  const config::Config& config = invocation->config;

  try {
    std::unique_ptr<shm::Segment> segment;
    docker::Client docker(lifecycle::dockerOptions(config));
    const auto report = lifecycle::sweep(config, docker, invocation->options.dry_run, [&] {
      segment = openLiveSegment(config);
      return segment.get();
    });
    return report.errors == 0 ? 0 : 1;
  } catch (const std::exception& error) {
    log::error(std::string("sweep failed: ") + error.what());
    return 1;
  }
}

int list(const std::vector<std::string>& args) {
  int exit_code = 0;
  const auto invocation = prepare(args, kList, exit_code);
  if (!invocation) return exit_code;

  try {
    auto segment = openRunningPool(invocation->config);
    if (!segment) return 1;
    std::printf("%-20s %-6s %-9s %-12s %-20s %s\n", "USER", "PORT", "STATE", "CONTAINER", "CREATED",
                "LAST SEEN");
    for (const auto& session : segment->list()) {
      std::printf("%-20s %-6u %-9s %-12s %-20s %s\n", session.user.c_str(), session.port,
                  shm::stateName(session.state), session.container_id.substr(0, 12).c_str(),
                  formatTime(session.created).c_str(), formatTime(session.last_seen).c_str());
    }
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "berth: %s\n", error.what());
    return 1;
  }
}

int reap(const std::vector<std::string>& args) {
  int exit_code = 0;
  const auto invocation = prepare(args, kReap, exit_code);
  if (!invocation) return exit_code;
  const config::Config& config = invocation->config;
  const std::string& user = invocation->options.positional[0];

  try {
    auto segment = openRunningPool(config);
    if (!segment) return 1;
    const auto session = segment->findByUser(user);
    if (!session) {
      std::fprintf(stderr, "berth: user %s has no session\n", user.c_str());
      return 1;
    }
    docker::Client docker(lifecycle::dockerOptions(config));
    lifecycle::Workspaces workspaces(config, *segment, docker);
    workspaces.destroy(*session, "berth reap");
    std::printf("destroyed the session of %s (port %u)\n", session->user.c_str(), session->port);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "berth: %s\n", error.what());
    return 1;
  }
}

}  // namespace berth::cli
