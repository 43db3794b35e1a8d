#include "shm/table.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>

namespace berth::shm {

std::string_view textOf(const char* field, std::size_t size) {
  return std::string_view(field, strnlen(field, size));
}

// The first byte is cleared before the others change and written after them,
// so a process dying halfway leaves an empty text instead of a mixed one.
void storeText(char* field, std::size_t size, std::string_view text) {
  std::atomic_ref<char> first(field[0]);
  first.store('\0', std::memory_order_release);

  std::size_t length = std::min(text.size(), size - 1);
  std::memset(field + 1, 0, size - 1);
  if (length > 1) std::memcpy(field + 1, text.data() + 1, length - 1);

  if (length > 0) first.store(text[0], std::memory_order_release);
}

bool isLive(const layout::Slot& slot) {
  State state = static_cast<State>(slot.state);
  return state == State::Starting || state == State::Running || state == State::Stopping;
}

void publishState(layout::Slot& slot, State state) {
  std::atomic_ref<std::uint8_t>(slot.state)
      .store(static_cast<std::uint8_t>(state), std::memory_order_release);
}

bool hasTokens(const layout::Slot& slot) {
  return std::any_of(std::begin(slot.tokens), std::end(slot.tokens),
                     [](const layout::Token& token) { return token.used != 0; });
}

void dropTokens(layout::Slot& slot) {
  for (layout::Token& token : slot.tokens) {
    std::atomic_ref<std::uint8_t>(token.used).store(0, std::memory_order_release);
    token.hash = TokenHash{};
  }
  slot.next_token = 0;
}

Table::Table(const layout::View& view)
    : view_(view),
      capacity_(view.header->capacity),
      port_min_(view.header->port_min),
      port_max_(view.header->port_max) {}

Claim Table::claim(std::string_view user, pid_t pid, std::int64_t now) {
  if (layout::Slot* existing = findUser(user)) return Claim{false, copy(*existing)};

  std::optional<std::uint32_t> index = lowestFreeSlot();
  if (!index) {
    throw CapacityError("every session slot is in use (capacity " + std::to_string(capacity_) +
                        ")");
  }

  std::optional<std::uint16_t> port = lowestFreePort(0, now);
  if (!port) throw CapacityError(noFreePortMessage(now));

  // The generation is never reset, so (slot, generation) stays unique even
  // when this claim dies halfway.
  layout::Slot& slot = view_.slots[*index];
  slot.generation += 1;
  slot.created = now;
  slot.last_seen = now;
  slot.owner_pid = pid;
  slot.port = *port;
  storeText(slot.user, user);
  storeText(slot.container_id, "");
  dropTokens(slot);
  publishState(slot, State::Starting);

  layout::PortEntry& entry = view_.ports[*portIndex(*port)];
  entry.owner = *index + 1;
  entry.blocked_until = 0;
  return Claim{true, copy(slot)};
}

std::optional<Session> Table::movePort(std::uint32_t slot, std::uint64_t generation,
                                       std::uint16_t port, std::int64_t now,
                                       std::int64_t block_seconds) {
  if (!portIndex(port)) {
    throw std::invalid_argument("port " + std::to_string(port) + " is outside " +
                                std::to_string(port_min_) + "-" + std::to_string(port_max_));
  }

  layout::Slot* session = findSession(slot, generation);
  if (session == nullptr || static_cast<State>(session->state) != State::Starting) {
    return std::nullopt;
  }

  blockPort(port, now + std::max<std::int64_t>(block_seconds, 0));

  std::uint16_t old_port = session->port;
  std::optional<std::uint16_t> new_port = lowestFreePort(slot + 1, now);
  if (!new_port) {
    session->port = 0;
    freePort(old_port, slot + 1);
    throw CapacityError(noFreePortMessage(now));
  }

  view_.ports[*portIndex(*new_port)].owner = slot + 1;
  session->port = *new_port;
  if (old_port != *new_port) freePort(old_port, slot + 1);
  return copy(*session);
}

bool Table::takeOver(std::uint32_t slot, std::uint64_t generation, pid_t pid) {
  layout::Slot* session = findSession(slot, generation);
  if (session == nullptr || static_cast<State>(session->state) != State::Starting) return false;

  session->owner_pid = pid;
  return true;
}

bool Table::setContainer(std::uint32_t slot, std::uint64_t generation,
                         std::string_view container_id) {
  layout::Slot* session = findSession(slot, generation);
  if (session == nullptr) return false;

  storeText(session->container_id, container_id);
  return true;
}

bool Table::markRunning(std::uint32_t slot, std::uint64_t generation) {
  layout::Slot* session = findSession(slot, generation);
  if (session == nullptr || static_cast<State>(session->state) != State::Starting) return false;

  publishState(*session, State::Running);
  return true;
}

bool Table::touch(std::uint32_t slot, std::uint64_t generation, std::int64_t now) {
  layout::Slot* session = findSession(slot, generation);
  if (session == nullptr) return false;

  session->last_seen = now;
  return true;
}

bool Table::addToken(std::uint32_t slot, std::uint64_t generation, const TokenHash& hash) {
  layout::Slot* session = findSession(slot, generation);
  if (session == nullptr || static_cast<State>(session->state) == State::Stopping) return false;

  // A hash that the session already contains does not take a second place.
  for (const layout::Token& token : session->tokens) {
    if (token.used != 0 && token.hash == hash) return true;
  }

  // The used flag is cleared before the hash changes and set after it, so a
  // holder dying in between leaves an empty place instead of a mixed hash.
  layout::Token& token = session->tokens[session->next_token % kTokensPerSession];
  std::atomic_ref<std::uint8_t>(token.used).store(0, std::memory_order_release);
  token.hash = hash;
  std::atomic_ref<std::uint8_t>(token.used).store(1, std::memory_order_release);

  session->next_token = (session->next_token + 1) % kTokensPerSession;
  return true;
}

std::optional<Session> Table::findByToken(const TokenHash& hash, std::int64_t now) {
  for (std::uint32_t index = 0; index < capacity_; ++index) {
    layout::Slot& slot = view_.slots[index];
    if (!isLive(slot)) continue;

    for (const layout::Token& token : slot.tokens) {
      if (token.used == 0 || token.hash != hash) continue;

      slot.last_seen = now;
      return copy(slot);
    }
  }
  return std::nullopt;
}

std::optional<Session> Table::findByUser(std::string_view user) const {
  layout::Slot* slot = findUser(user);
  if (slot == nullptr) return std::nullopt;
  return copy(*slot);
}

std::optional<Session> Table::get(std::uint32_t slot, std::uint64_t generation) const {
  layout::Slot* session = findSession(slot, generation);
  if (session == nullptr) return std::nullopt;
  return copy(*session);
}

std::optional<Session> Table::beginStop(std::uint32_t slot, std::uint64_t generation) {
  layout::Slot* session = findSession(slot, generation);
  if (session == nullptr) return std::nullopt;

  Session before = copy(*session);
  publishState(*session, State::Stopping);
  dropTokens(*session);
  return before;
}

bool Table::release(std::uint32_t slot, std::uint64_t generation) {
  layout::Slot* session = findSession(slot, generation);
  if (session == nullptr) return false;

  dropTokens(*session);
  publishState(*session, State::Free);

  freePort(session->port, slot + 1);
  session->port = 0;
  storeText(session->user, "");
  storeText(session->container_id, "");
  return true;
}

std::vector<Session> Table::list() const {
  std::vector<Session> sessions;
  for (std::uint32_t index = 0; index < capacity_; ++index) {
    if (isLive(view_.slots[index])) sessions.push_back(copy(view_.slots[index]));
  }
  return sessions;
}

layout::Slot* Table::findSession(std::uint32_t slot, std::uint64_t generation) const {
  if (slot >= capacity_) return nullptr;

  layout::Slot& session = view_.slots[slot];
  if (!isLive(session) || session.generation != generation) return nullptr;
  return &session;
}

layout::Slot* Table::findUser(std::string_view user) const {
  for (std::uint32_t index = 0; index < capacity_; ++index) {
    layout::Slot& slot = view_.slots[index];
    if (isLive(slot) && textOf(slot.user) == user) return &slot;
  }
  return nullptr;
}

std::optional<std::uint32_t> Table::lowestFreeSlot() const {
  for (std::uint32_t index = 0; index < capacity_; ++index) {
    if (static_cast<State>(view_.slots[index].state) == State::Free) return index;
  }
  return std::nullopt;
}

// Returns the lowest port that is not blocked at `now` and is free or held
// by `owner`, which is slot + 1, or 0 to accept free ports only.
std::optional<std::uint16_t> Table::lowestFreePort(std::uint32_t owner, std::int64_t now) const {
  for (std::uint32_t index = 0; index < capacity_; ++index) {
    const layout::PortEntry& entry = view_.ports[index];
    bool available = entry.owner == 0 || (owner != 0 && entry.owner == owner);
    if (available && entry.blocked_until <= now) return port_min_ + index;
  }
  return std::nullopt;
}

std::string Table::noFreePortMessage(std::int64_t now) const {
  std::uint32_t in_use = 0;
  std::uint32_t blocked = 0;
  for (std::uint32_t index = 0; index < capacity_; ++index) {
    if (view_.ports[index].owner != 0) {
      ++in_use;
    } else if (view_.ports[index].blocked_until > now) {
      ++blocked;
    }
  }

  return "no free port in " + std::to_string(port_min_) + "-" + std::to_string(port_max_) + ": " +
         std::to_string(in_use) + " in use by sessions, " + std::to_string(blocked) +
         " blocked because another process held them";
}

std::optional<std::uint32_t> Table::portIndex(std::uint16_t port) const {
  if (port < port_min_ || port > port_max_) return std::nullopt;
  return port - port_min_;
}

void Table::blockPort(std::uint16_t port, std::int64_t until) {
  std::optional<std::uint32_t> index = portIndex(port);
  if (!index) return;

  layout::PortEntry& entry = view_.ports[*index];
  entry.blocked_until = std::max(entry.blocked_until, until);
}

void Table::freePort(std::uint16_t port, std::uint32_t owner) {
  std::optional<std::uint32_t> index = portIndex(port);
  if (index && view_.ports[*index].owner == owner) view_.ports[*index].owner = 0;
}

Session Table::copy(const layout::Slot& slot) const {
  Session session;
  session.slot = indexOf(slot);
  session.generation = slot.generation;
  session.state = static_cast<State>(slot.state);
  session.user = std::string(textOf(slot.user));
  session.container_id = std::string(textOf(slot.container_id));
  session.port = slot.port;
  session.owner_pid = slot.owner_pid;
  session.created = slot.created;
  session.last_seen = slot.last_seen;
  return session;
}

std::uint32_t Table::indexOf(const layout::Slot& slot) const {
  return static_cast<std::uint32_t>(&slot - view_.slots);
}

std::string Table::describe(const layout::Slot& slot) const {
  return "slot " + std::to_string(indexOf(slot)) + " (user '" + std::string(textOf(slot.user)) +
         "', port " + std::to_string(slot.port) + ")";
}

}  // namespace berth::shm
