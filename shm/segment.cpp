#include "shm/segment.hpp"

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <boost/version.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <new>
#include <stdexcept>
#include <thread>
#include <utility>

#include "common/log.hpp"
#include "shm/layout.hpp"
#include "shm/robust_mutex.hpp"
#include "shm/table.hpp"

namespace berth::shm {

namespace interprocess = boost::interprocess;

namespace {

constexpr std::chrono::milliseconds kInitialisedWait{1000};
constexpr std::chrono::milliseconds kInitialisedPoll{10};

std::string devicePath(const std::string& name) { return "/dev/shm/" + name; }

std::string recoveryAdvice(const std::string& name) {
  return "Stop every berth process that uses it, remove " + devicePath(name) +
         " and start berth again.";
}

void checkOptions(const SegmentOptions& options) {
  if (options.name.empty() || options.name.find('/') != std::string::npos) {
    throw SegmentError("invalid shared memory segment name '" + options.name +
                       "'. Use a non-empty name without '/'.");
  }

  if (options.port_min == 0 || options.port_min > options.port_max) {
    throw SegmentError("invalid port range " + std::to_string(options.port_min) + "-" +
                       std::to_string(options.port_max) +
                       ". The range must start at 1 or above and must not end below its start.");
  }
}

std::uint32_t capacityOf(const SegmentOptions& options) {
  return std::uint32_t{options.port_max} - options.port_min + 1;
}

interprocess::shared_memory_object createObject(const std::string& name) {
  interprocess::permissions owner_only(0600);
  try {
    return interprocess::shared_memory_object(interprocess::create_only, name.c_str(),
                                              interprocess::read_write, owner_only);
  } catch (const interprocess::interprocess_exception& error) {
    if (error.get_error_code() == interprocess::already_exists_error) {
      throw SegmentError("shared memory segment " + devicePath(name) +
                         " already exists. Another berth pool may be using it. Stop that "
                         "pool, or remove " +
                         devicePath(name) + " if no berth process runs.");
    }
    throw SegmentError("creating shared memory segment " + devicePath(name) +
                       " failed: " + error.what());
  }
}

interprocess::shared_memory_object openObject(const std::string& name) {
  try {
    return interprocess::shared_memory_object(interprocess::open_only, name.c_str(),
                                              interprocess::read_write);
  } catch (const interprocess::interprocess_exception& error) {
    if (error.get_error_code() == interprocess::not_found_error) {
      throw SegmentError("shared memory segment " + devicePath(name) +
                         " is missing. Start the berth pool, which creates it.");
    }
    throw SegmentError("opening shared memory segment " + devicePath(name) +
                       " failed: " + error.what());
  }
}

void initialise(void* base, const SegmentOptions& options) {
  std::uint32_t capacity = capacityOf(options);

  auto* header = new (base) layout::Header{};
  header->magic = layout::kMagic;
  header->layout_version = layout::kLayoutVersion;
  header->boost_version = BOOST_VERSION;
  header->total_size = layout::totalSize(capacity);
  header->port_min = options.port_min;
  header->port_max = options.port_max;
  header->capacity = capacity;

  layout::View view = layout::makeView(base, capacity);
  initRobustMutex(*view.mutex);
  for (std::uint32_t index = 0; index < capacity; ++index) new (&view.slots[index]) layout::Slot{};
  for (std::uint32_t index = 0; index < capacity; ++index) {
    new (&view.ports[index]) layout::PortEntry{};
  }

  std::atomic_ref<std::uint32_t>(header->initialised)
      .store(layout::kInitialised, std::memory_order_release);
}

bool isInitialised(const interprocess::mapped_region& region) {
  auto* header = static_cast<layout::Header*>(region.get_address());
  return std::atomic_ref<std::uint32_t>(header->initialised).load(std::memory_order_acquire) ==
         layout::kInitialised;
}

// Maps the object once its creator has marked it initialised. The creator
// truncates the object before it writes the header, so an object still
// smaller than a header is not initialised either.
interprocess::mapped_region mapInitialised(const interprocess::shared_memory_object& object,
                                           const std::string& name) {
  auto deadline = std::chrono::steady_clock::now() + kInitialisedWait;
  while (true) {
    interprocess::offset_t size = 0;
    object.get_size(size);
    if (size >= static_cast<interprocess::offset_t>(sizeof(layout::Header))) {
      interprocess::mapped_region region(object, interprocess::read_write);
      if (isInitialised(region)) return region;
    }

    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(kInitialisedPoll);
  }

  throw SegmentError("shared memory segment " + devicePath(name) +
                     " is not initialised after 1 s, so the process that created it probably died "
                     "while creating it. " +
                     recoveryAdvice(name));
}

[[noreturn]] void rejectField(const std::string& name, const std::string& field,
                              const std::string& found, const std::string& expected,
                              const std::string& reason) {
  throw SegmentError("shared memory segment " + devicePath(name) + " has " + field + " " + found +
                     ", expected " + expected + ". " + reason + ". " + recoveryAdvice(name));
}

std::string hex(std::uint64_t value) {
  char text[19];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(value));
  return text;
}

// Checks every header field before anything else of the segment is read.
void checkHeader(const layout::Header& header, std::size_t mapped_size,
                 const SegmentOptions& options) {
  const std::string& name = options.name;
  auto check = [&name](auto found, auto expected, const char* field, const char* reason) {
    if (found != expected) {
      rejectField(name, field, std::to_string(found), std::to_string(expected), reason);
    }
  };

  if (header.magic != layout::kMagic) {
    rejectField(name, "magic", hex(header.magic), hex(layout::kMagic), "It is not a berth segment");
  }
  check(header.layout_version, layout::kLayoutVersion, "layout version",
        "Another berth version created it");
  check(header.boost_version, std::uint32_t{BOOST_VERSION}, "Boost version",
        "A berth built with another Boost version created it");
  check(header.total_size, std::uint64_t{mapped_size}, "total size",
        "The object was truncated or resized after it was created");
  check(header.port_min, options.port_min, "port_min", "It was created for another port range");
  check(header.port_max, options.port_max, "port_max", "It was created for another port range");
  check(header.capacity, capacityOf(options), "capacity", "Its header is corrupt");
  check(header.total_size, std::uint64_t{layout::totalSize(header.capacity)}, "total size",
        "Its header is corrupt");
}

}  // namespace

struct Segment::Mapping {
  Mapping(std::string segment_name, interprocess::mapped_region mapped_region)
      : name(std::move(segment_name)),
        region(std::move(mapped_region)),
        view(layout::makeView(region.get_address(),
                              static_cast<layout::Header*>(region.get_address())->capacity)),
        table(view) {}

  void lock();
  void recover() noexcept;
  void unlock() noexcept { unlockRobustMutex(*view.mutex); }

  std::string name;
  interprocess::mapped_region region;
  layout::View view;
  Table table;
};

void Segment::Mapping::lock() {
  switch (lockRobustMutex(*view.mutex)) {
    case LockResult::Acquired:
      return;
    case LockResult::OwnerDied:
      recover();
      return;
    case LockResult::NotRecoverable:
      throw SegmentError("the lock of shared memory segment " + devicePath(name) +
                         " is not recoverable, because a process found its holder dead and "
                         "released it without repairing the tables. " +
                         recoveryAdvice(name));
  }
}

// Runs while holding a lock whose previous holder died. It is noexcept because
// unlocking without markConsistent() would make the lock unusable for good.
// An exception here ends the process instead, so the next locker repairs.
void Segment::Mapping::recover() noexcept {
  std::vector<std::string> changes = table.repair();
  view.header->recoveries += 1;
  markConsistent(*view.mutex);

  log::warning("shm: a process died holding the lock of " + devicePath(name) +
               ", so this process repaired the tables (recovery " +
               std::to_string(view.header->recoveries) + ", " + std::to_string(changes.size()) +
               " changes)");
  for (const std::string& change : changes) log::warning("shm: repair: " + change);
}

Segment::Guard::Guard(const Segment& segment) : segment_(segment) { segment_.mapping_->lock(); }

Segment::Guard::~Guard() { segment_.mapping_->unlock(); }

Segment::Segment(std::unique_ptr<Mapping> mapping) : mapping_(std::move(mapping)) {}

Segment::~Segment() = default;

std::unique_ptr<Segment> Segment::create(const SegmentOptions& options) {
  checkOptions(options);
  interprocess::shared_memory_object object = createObject(options.name);

  // NOTE: an error below removes the object again, but a creator that dies
  // here leaves it uninitialised until an operator removes it.
  try {
    object.truncate(static_cast<interprocess::offset_t>(layout::totalSize(capacityOf(options))));
    interprocess::mapped_region region(object, interprocess::read_write);
    initialise(region.get_address(), options);
    return std::unique_ptr<Segment>(
        new Segment(std::make_unique<Mapping>(options.name, std::move(region))));
  } catch (const std::exception& error) {
    interprocess::shared_memory_object::remove(options.name.c_str());
    throw SegmentError("initialising shared memory segment " + devicePath(options.name) +
                       " failed: " + error.what());
  }
}

std::unique_ptr<Segment> Segment::open(const SegmentOptions& options) {
  checkOptions(options);
  interprocess::shared_memory_object object = openObject(options.name);

  interprocess::mapped_region region = mapInitialised(object, options.name);
  checkHeader(*static_cast<const layout::Header*>(region.get_address()), region.get_size(),
              options);
  return std::unique_ptr<Segment>(
      new Segment(std::make_unique<Mapping>(options.name, std::move(region))));
}

bool Segment::remove(const std::string& name) {
  return interprocess::shared_memory_object::remove(name.c_str());
}

void Segment::setOwner(pid_t pid, std::uint64_t start_time) {
  Guard guard(*this);
  mapping_->view.header->owner_pid = pid;
  mapping_->view.header->owner_start_time = start_time;
}

std::pair<pid_t, std::uint64_t> Segment::owner() const {
  Guard guard(*this);
  return {mapping_->view.header->owner_pid, mapping_->view.header->owner_start_time};
}

Claim Segment::claim(const std::string& user, pid_t pid, std::int64_t now) {
  if (user.empty() || user.size() > kUserMax || user.find('\0') != std::string::npos) {
    throw std::invalid_argument("invalid user name '" + user + "'. A user name has 1 to " +
                                std::to_string(kUserMax) + " bytes and no NUL byte");
  }

  Guard guard(*this);
  return mapping_->table.claim(user, pid, now);
}

std::optional<Session> Segment::movePort(std::uint32_t slot, std::uint64_t generation,
                                         std::uint16_t port, std::int64_t now,
                                         std::int64_t block_seconds) {
  Guard guard(*this);
  return mapping_->table.movePort(slot, generation, port, now, block_seconds);
}

bool Segment::takeOver(std::uint32_t slot, std::uint64_t generation, pid_t pid) {
  Guard guard(*this);
  return mapping_->table.takeOver(slot, generation, pid);
}

bool Segment::setContainer(std::uint32_t slot, std::uint64_t generation,
                           const std::string& container_id) {
  if (container_id.size() > kContainerIdMax || container_id.find('\0') != std::string::npos) {
    throw std::invalid_argument("invalid container id '" + container_id +
                                "'. A container id has at most " + std::to_string(kContainerIdMax) +
                                " bytes and no NUL byte");
  }

  Guard guard(*this);
  return mapping_->table.setContainer(slot, generation, container_id);
}

bool Segment::markRunning(std::uint32_t slot, std::uint64_t generation) {
  Guard guard(*this);
  return mapping_->table.markRunning(slot, generation);
}

bool Segment::touch(std::uint32_t slot, std::uint64_t generation, std::int64_t now) {
  Guard guard(*this);
  return mapping_->table.touch(slot, generation, now);
}

bool Segment::addToken(std::uint32_t slot, std::uint64_t generation, const TokenHash& hash) {
  Guard guard(*this);
  return mapping_->table.addToken(slot, generation, hash);
}

std::optional<Session> Segment::findByToken(const TokenHash& hash, std::int64_t now) {
  Guard guard(*this);
  return mapping_->table.findByToken(hash, now);
}

std::optional<Session> Segment::findByUser(const std::string& user) const {
  Guard guard(*this);
  return mapping_->table.findByUser(user);
}

std::optional<Session> Segment::get(std::uint32_t slot, std::uint64_t generation) const {
  Guard guard(*this);
  return mapping_->table.get(slot, generation);
}

std::optional<Session> Segment::beginStop(std::uint32_t slot, std::uint64_t generation) {
  Guard guard(*this);
  return mapping_->table.beginStop(slot, generation);
}

bool Segment::release(std::uint32_t slot, std::uint64_t generation) {
  Guard guard(*this);
  return mapping_->table.release(slot, generation);
}

std::vector<Session> Segment::list() const {
  Guard guard(*this);
  return mapping_->table.list();
}

std::uint16_t Segment::portMin() const { return mapping_->view.header->port_min; }

std::uint16_t Segment::portMax() const { return mapping_->view.header->port_max; }

std::uint32_t Segment::capacity() const { return mapping_->view.header->capacity; }

std::uint64_t Segment::recoveries() const {
  Guard guard(*this);
  return mapping_->view.header->recoveries;
}

std::vector<std::string> Segment::consistencyProblems() const {
  Guard guard(*this);
  return mapping_->table.problems();
}

}  // namespace berth::shm
