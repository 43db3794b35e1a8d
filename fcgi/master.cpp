#include "fcgi/master.hpp"

#include <fcgiapp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <thread>

#include "common/log.hpp"
#include "common/process.hpp"
#include "docker/client.hpp"
#include "fcgi/listen_socket.hpp"
#include "fcgi/proctitle.hpp"
#include "fcgi/worker.hpp"
#include "lifecycle/sweep.hpp"
#include "lifecycle/workspaces.hpp"
#include "shm/segment.hpp"

namespace berth::fcgi {
namespace {

using Clock = std::chrono::steady_clock;

// A worker that dies sooner than this after its start is restarted only after
// the same delay, so a worker that cannot start does not spin the master.
constexpr auto kRestartDelay = std::chrono::seconds(1);
// How long stopping workers get before SIGKILL.
constexpr auto kStopGrace = std::chrono::seconds(5);
// How long the engine gets to finish creates that stopped workers had sent.
constexpr auto kCreateSettle = std::chrono::seconds(1);

shm::SegmentOptions segmentOptions(const config::Config& config) {
  return {config.segment, config.port_min, config.port_max};
}

// Creates the pool's segment. An existing segment whose pool is alive is an
// error. One whose pool died is removed, so its containers become orphans for
// the sweep that follows.
std::unique_ptr<shm::Segment> claimSegment(const config::Config& config) {
  const std::string path = "/dev/shm/" + config.segment;
  if (::access(path.c_str(), F_OK) == 0) {
    auto stale = shm::Segment::open(segmentOptions(config));
    const auto [pid, start_time] = stale->owner();
    if (pid != 0 && processStartTime(pid) == start_time) {
      throw shm::SegmentError(
          "the segment " + config.segment + " belongs to a running berth pool (master pid " +
          std::to_string(pid) + "); stop that pool or set another `segment` in the config");
    }
    log::warning("removing the segment of a pool that died (master pid " + std::to_string(pid) +
                 "); its containers are orphans now");
    stale.reset();
    shm::Segment::remove(config.segment);
  }

  auto segment = shm::Segment::create(segmentOptions(config));
  segment->setOwner(getpid(), processStartTime(getpid()));
  return segment;
}

pid_t startWorker(int index, int listen_fd, const config::Config& config,
                  const sigset_t& original_mask) {
  const pid_t master_pid = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    log::error(std::string("fork failed: ") + std::strerror(errno));
    return -1;
  }
  if (pid == 0) {
    // A worker must not outlive its master: nothing would supervise it, and a
    // sweep would treat its sessions as orphans.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != master_pid) _exit(1);
    sigprocmask(SIG_SETMASK, &original_mask, nullptr);
    runWorker(index, listen_fd, config);
  }
  log::info("started worker " + std::to_string(index) + " pid=" + std::to_string(pid));
  return pid;
}

struct Worker {
  int index;
  Clock::time_point started;
};

void stopWorkers(std::map<pid_t, Worker>& workers) {
  for (const auto& [pid, worker] : workers) ::kill(pid, SIGTERM);

  const auto deadline = Clock::now() + kStopGrace;
  while (!workers.empty() && Clock::now() < deadline) {
    const pid_t pid = ::waitpid(-1, nullptr, WNOHANG);
    if (pid > 0) {
      workers.erase(pid);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  for (const auto& [pid, worker] : workers) {
    log::warning("worker " + std::to_string(worker.index) + " did not stop; sending SIGKILL");
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  workers.clear();
}

// Removes every container of the pool with one list call. A failure is
// logged and left to the next `berth sweep`, which finds the same orphans.
void removeOrphans(const config::Config& config, docker::Client& docker) {
  try {
    lifecycle::sweep(config, docker, false, [] { return static_cast<shm::Segment*>(nullptr); });
  } catch (const docker::Error& error) {
    log::error(std::string("removing the pool's containers failed; the next sweep removes them: ") +
               error.what());
  }
}

// The inode of the segment file, or 0 when it is missing.
ino_t segmentInode(const config::Config& config) {
  struct stat info {};
  if (::stat(("/dev/shm/" + config.segment).c_str(), &info) != 0) return 0;
  return info.st_ino;
}

void startWorkers(int count, int listen_fd, const config::Config& config,
                  const sigset_t& original_mask, std::map<pid_t, Worker>& workers) {
  for (int index = 1; index <= count; ++index) {
    const pid_t pid = startWorker(index, listen_fd, config, original_mask);
    if (pid > 0) workers[pid] = Worker{index, Clock::now()};
  }
}

std::string describeExit(int status) {
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

int runMaster(const config::Config& config) {
  setProcessTitle("berth: master");

  // The master takes its signals with sigtimedwait; workers restore the mask.
  sigset_t handled;
  sigset_t original_mask;
  sigemptyset(&handled);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGHUP);
  sigaddset(&handled, SIGCHLD);
  sigprocmask(SIG_BLOCK, &handled, &original_mask);
  signal(SIGPIPE, SIG_IGN);

  docker::Client docker(lifecycle::dockerOptions(config));
  std::unique_ptr<shm::Segment> segment;
  try {
    segment = claimSegment(config);
  } catch (const std::exception& error) {
    log::error(std::string("cannot start the pool: ") + error.what());
    return 1;
  }

  ListenSocket listen_socket;
  try {
    if (FCGX_Init() != 0) throw std::runtime_error("FCGX_Init failed");
    listen_socket = openListenSocket(config);
  } catch (const std::exception& error) {
    log::error(std::string("cannot start the pool: ") + error.what());
    segment.reset();
    shm::Segment::remove(config.segment);
    return 1;
  }
  const int listen_fd = listen_socket.fd;
  removeOrphans(config, docker);

  const int count =
      config.workers > 0 ? config.workers : static_cast<int>(std::thread::hardware_concurrency());
  log::info("pool starting: listen=" + config.listen + " segment=" + config.segment +
            " workers=" + std::to_string(count) + " threads=" + std::to_string(config.threads) +
            " ports=" + std::to_string(config.port_min) + "-" + std::to_string(config.port_max));

  std::map<pid_t, Worker> workers;
  startWorkers(std::max(count, 1), listen_fd, config, original_mask, workers);
  ino_t inode = segmentInode(config);

  const timespec tick{1, 0};
  while (true) {
    siginfo_t info;
    const int signal_number = sigtimedwait(&handled, &info, &tick);
    if (signal_number == SIGTERM || signal_number == SIGINT || signal_number == SIGHUP) {
      log::info(std::string("pool stopping on ") + strsignal(signal_number));
      break;
    }

    // Workers keep a removed segment mapped and would go on serving sessions
    // that no other process can see; start over with a new segment instead.
    if (segmentInode(config) != inode) {
      log::error("the segment /dev/shm/" + config.segment +
                 " was removed or replaced; its sessions are lost, restarting the workers "
                 "with a new segment");
      stopWorkers(workers);
      segment.reset();
      try {
        segment = claimSegment(config);
      } catch (const std::exception& error) {
        log::error(std::string("cannot recreate the segment: ") + error.what());
        break;
      }
      removeOrphans(config, docker);
      inode = segmentInode(config);
      startWorkers(std::max(count, 1), listen_fd, config, original_mask, workers);
      continue;
    }

    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      const auto found = workers.find(pid);
      if (found == workers.end()) continue;
      const Worker dead = found->second;
      workers.erase(found);
      log::error("worker " + std::to_string(dead.index) + " pid=" + std::to_string(pid) + " " +
                 describeExit(status) + "; restarting it");
      if (Clock::now() - dead.started < kRestartDelay) std::this_thread::sleep_for(kRestartDelay);
      const pid_t replacement = startWorker(dead.index, listen_fd, config, original_mask);
      if (replacement > 0) workers[replacement] = Worker{dead.index, Clock::now()};
    }
  }

  stopWorkers(workers);
  closeListenSocket(listen_socket, config.listen);
  segment.reset();
  removeOrphans(config, docker);
  // A create that a killed worker had sent may finish in the engine after the
  // first list call, so a second pass follows a short wait.
  std::this_thread::sleep_for(kCreateSettle);
  removeOrphans(config, docker);
  shm::Segment::remove(config.segment);
  log::info("pool stopped");
  return 0;
}

}  // namespace berth::fcgi
