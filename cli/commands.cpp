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
  const auto options = parseOptions(args, false);
  if (!options) return 2;
  if (options->help) {
    std::puts(
        "usage: berth serve [--config PATH]\n\n"
        "Runs the FastCGI pool in the foreground: a master (process title\n"
        "\"berth: master\") and its workers (\"berth: worker N\"). SIGTERM or\n"
        "SIGINT stops it and destroys every container of the pool.");
    return 0;
  }
  const auto config = loadConfig(*options);
  if (!config) return 2;
  return fcgi::runMaster(*config);
}

int sweep(const std::vector<std::string>& args) {
  const auto options = parseOptions(args, true);
  if (!options) return 2;
  if (options->help) {
    std::puts(
        "usage: berth sweep [--config PATH] [--dry-run]\n\n"
        "Reconciles the pool's sessions with the engine once, from one list call:\n"
        "removes containers without a session, drops sessions whose container is\n"
        "gone, reaps sessions idle longer than idle_timeout or older than\n"
        "max_lifetime, and reclaims starts of dead workers. With no live pool,\n"
        "every container of the pool is an orphan. --dry-run only prints what it\n"
        "would do. Exits 1 when an action or the list call failed.");
    return 0;
  }
  const auto config = loadConfig(*options);
  if (!config) return 2;

  try {
    std::unique_ptr<shm::Segment> segment;
    docker::Client docker(
        docker::ClientOptions{config->docker_socket, 2000, config->docker_timeout * 1000L});
    const auto report = lifecycle::sweep(*config, docker, options->dry_run, [&] {
      segment = openLiveSegment(*config);
      return segment.get();
    });
    return report.errors == 0 ? 0 : 1;
  } catch (const std::exception& error) {
    log::error(std::string("sweep failed: ") + error.what());
    return 1;
  }
}

int list(const std::vector<std::string>& args) {
  const auto options = parseOptions(args, false);
  if (!options) return 2;
  if (options->help) {
    std::puts("usage: berth list [--config PATH]\n\nPrints every session of the running pool.");
    return 0;
  }
  const auto config = loadConfig(*options);
  if (!config) return 2;

  try {
    auto segment = openLiveSegment(*config);
    if (!segment) {
      std::fprintf(stderr, "berth: no pool is running with segment %s\n", config->segment.c_str());
      return 1;
    }
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
  const auto options = parseOptions(args, false);
  if (!options) return 2;
  if (options->help || options->positional.size() != 1) {
    std::fputs(
        "usage: berth reap USER [--config PATH]\n\n"
        "Destroys USER's session and container, as a logout does.\n",
        options->help ? stdout : stderr);
    return options->help ? 0 : 2;
  }
  const auto config = loadConfig(*options);
  if (!config) return 2;

  try {
    auto segment = openLiveSegment(*config);
    if (!segment) {
      std::fprintf(stderr, "berth: no pool is running with segment %s\n", config->segment.c_str());
      return 1;
    }
    const auto session = segment->findByUser(options->positional[0]);
    if (!session) {
      std::fprintf(stderr, "berth: user %s has no session\n", options->positional[0].c_str());
      return 1;
    }
    docker::Client docker(
        docker::ClientOptions{config->docker_socket, 2000, config->docker_timeout * 1000L});
    lifecycle::Workspaces workspaces(*config, *segment, docker);
    workspaces.destroy(*session);
    std::printf("destroyed the session of %s (port %u)\n", session->user.c_str(), session->port);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "berth: %s\n", error.what());
    return 1;
  }
}

}  // namespace berth::cli
