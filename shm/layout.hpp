#pragma once

#include <pthread.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "shm/session.hpp"

// The byte layout of the shared-memory segment: a Header, the lock, `capacity`
// slots, then `capacity` port entries. The types contain no pointers, so each
// process may map the segment at any address. Increase kLayoutVersion whenever
// a type, a constant or the order below changes.
namespace berth::shm::layout {

// "BERTHSHM" in little-endian byte order.
inline constexpr std::uint64_t kMagic = 0x4d48534854524542;
inline constexpr std::uint32_t kLayoutVersion = 1;
// Value of Header::initialised once create() has written every other byte.
// Any other value, zero included, means the segment is not initialised.
inline constexpr std::uint32_t kInitialised = 0x54494e49;

struct Header {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t boost_version;  // BOOST_VERSION of the creator
  std::uint64_t total_size;     // bytes, from the header to the end of the port map
  std::uint16_t port_min;
  std::uint16_t port_max;  // inclusive
  std::uint32_t capacity;  // session slots, one per port of the range
  std::int32_t owner_pid;  // 0 until a pool calls Segment::setOwner()
  std::uint32_t padding;
  std::uint64_t owner_start_time;  // clock ticks since boot
  std::uint64_t recoveries;
  std::uint32_t initialised;  // kInitialised, stored last with release order
};

struct Token {
  TokenHash hash;
  std::uint8_t used;  // 1 when hash contains a token, 0 when the place is empty
};

struct Slot {
  std::uint64_t generation;  // incremented by every claim of the slot, 0 for a slot never used
  std::int64_t created;      // unix seconds
  std::int64_t last_seen;    // unix seconds
  std::int32_t owner_pid;
  std::uint16_t port;       // 0 when the session has no port
  std::uint8_t state;       // a State
  std::uint8_t next_token;  // index into tokens that the next addToken() overwrites
  char user[kUserMax + 1];  // NUL-terminated
  char container_id[kContainerIdMax + 1];
  Token tokens[kTokensPerSession];
};

struct PortEntry {
  std::uint32_t owner;  // slot + 1 of the session holding the port, 0 when free
  std::uint32_t padding;
  // Unix seconds before which claims skip the port, because another process
  // held it.
  std::int64_t blocked_until;
};

static_assert(std::is_trivially_copyable_v<Header> && std::is_standard_layout_v<Header>);
static_assert(std::is_trivially_copyable_v<Slot> && std::is_standard_layout_v<Slot>);
static_assert(std::is_trivially_copyable_v<PortEntry> && std::is_standard_layout_v<PortEntry>);

constexpr std::size_t alignUp(std::size_t offset, std::size_t alignment) {
  return (offset + alignment - 1) / alignment * alignment;
}

inline constexpr std::size_t kMutexOffset = alignUp(sizeof(Header), 64);
inline constexpr std::size_t kSlotsOffset = alignUp(kMutexOffset + sizeof(pthread_mutex_t), 64);

constexpr std::size_t portsOffset(std::uint32_t capacity) {
  return alignUp(kSlotsOffset + capacity * sizeof(Slot), alignof(PortEntry));
}

constexpr std::size_t totalSize(std::uint32_t capacity) {
  return portsOffset(capacity) + capacity * sizeof(PortEntry);
}

// Typed pointers into one mapping of the segment.
struct View {
  Header* header = nullptr;
  pthread_mutex_t* mutex = nullptr;
  Slot* slots = nullptr;
  PortEntry* ports = nullptr;
};

// Points a View into the mapping at `base`, which must span totalSize(capacity)
// bytes and be aligned to a page.
inline View makeView(void* base, std::uint32_t capacity) {
  auto* bytes = static_cast<std::byte*>(base);

  View view;
  view.header = reinterpret_cast<Header*>(bytes);
  view.mutex = reinterpret_cast<pthread_mutex_t*>(bytes + kMutexOffset);
  view.slots = reinterpret_cast<Slot*>(bytes + kSlotsOffset);
  view.ports = reinterpret_cast<PortEntry*>(bytes + portsOffset(capacity));
  return view;
}

}  // namespace berth::shm::layout
