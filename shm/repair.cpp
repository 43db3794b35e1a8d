#include <string>
#include <unordered_map>

#include "shm/table.hpp"

namespace berth::shm {
namespace {

// Returns "slot N" for the port map owner N + 1, or "no slot" for 0.
std::string ownerName(std::uint32_t owner) {
  if (owner == 0) return "no slot";
  return "slot " + std::to_string(owner - 1);
}

}  // namespace

std::vector<std::string> Table::repair() {
  std::vector<std::string> changes;

  std::unordered_map<std::string_view, std::uint32_t> users;
  for (std::uint32_t index = 0; index < capacity_; ++index) {
    layout::Slot& slot = view_.slots[index];
    repairSlot(slot, changes);
    if (!isLive(slot)) continue;

    auto [first, inserted] = users.emplace(textOf(slot.user), index);
    if (!inserted) retire(slot, "has the user of slot " + std::to_string(first->second), changes);
  }

  rebuildPortMap(changes);
  return changes;
}

void Table::repairSlot(layout::Slot& slot, std::vector<std::string>& changes) {
  slot.user[kUserMax] = '\0';
  slot.container_id[kContainerIdMax] = '\0';
  slot.next_token %= kTokensPerSession;

  if (slot.state > static_cast<std::uint8_t>(State::Stopping)) {
    retire(slot, "has invalid state " + std::to_string(slot.state), changes);
  } else if (isLive(slot) && textOf(slot.user).empty()) {
    retire(slot, "has no user name", changes);
  }

  State state = static_cast<State>(slot.state);
  if (state == State::Free && (slot.port != 0 || hasTokens(slot))) {
    changes.push_back("free " + describe(slot) +
                      " kept its port or tokens, so repair cleared them");
    slot.port = 0;
    dropTokens(slot);
  }

  if (state == State::Stopping && hasTokens(slot)) {
    changes.push_back("stopping " + describe(slot) + " kept its tokens, so repair dropped them");
    dropTokens(slot);
  }
}

void Table::retire(layout::Slot& slot, std::string_view reason, std::vector<std::string>& changes) {
  State next = textOf(slot.container_id).empty() ? State::Free : State::Stopping;
  changes.push_back(describe(slot) + " " + std::string(reason) + ", so repair set it to " +
                    stateName(next));

  dropTokens(slot);
  publishState(slot, next);
  if (next == State::Free) slot.port = 0;
}

void Table::rebuildPortMap(std::vector<std::string>& changes) {
  std::vector<std::uint32_t> old_owners(capacity_);
  for (std::uint32_t index = 0; index < capacity_; ++index) {
    old_owners[index] = view_.ports[index].owner;
    view_.ports[index].owner = 0;
  }

  for (std::uint32_t index = 0; index < capacity_; ++index) {
    layout::Slot& slot = view_.slots[index];
    if (!isLive(slot) || slot.port == 0) continue;

    std::optional<std::uint32_t> port_index = portIndex(slot.port);
    std::uint32_t holder = port_index ? view_.ports[*port_index].owner : 0;
    if (port_index && holder == 0) {
      view_.ports[*port_index].owner = index + 1;
      continue;
    }

    std::string reason = port_index ? "shares its port with " + ownerName(holder)
                                    : "has a port outside " + std::to_string(port_min_) + "-" +
                                          std::to_string(port_max_);
    retire(slot, reason, changes);
    slot.port = 0;
  }

  for (std::uint32_t index = 0; index < capacity_; ++index) {
    std::uint32_t owner = view_.ports[index].owner;
    if (owner == old_owners[index]) continue;

    changes.push_back("port map gave port " + std::to_string(port_min_ + index) + " to " +
                      ownerName(old_owners[index]) + " and now gives it to " + ownerName(owner));
  }
}

std::vector<std::string> Table::problems() const {
  std::vector<std::string> problems;
  findSlotProblems(problems);
  findPortProblems(problems);
  return problems;
}

void Table::findSlotProblems(std::vector<std::string>& problems) const {
  std::unordered_map<std::string_view, std::uint32_t> users;
  for (std::uint32_t index = 0; index < capacity_; ++index) {
    const layout::Slot& slot = view_.slots[index];
    if (slot.user[kUserMax] != '\0' || slot.container_id[kContainerIdMax] != '\0') {
      problems.push_back(describe(slot) + " has a text field without its NUL terminator");
    }
    if (slot.next_token >= kTokensPerSession) {
      problems.push_back(describe(slot) + " has next_token " + std::to_string(slot.next_token));
    }
    if (slot.state > static_cast<std::uint8_t>(State::Stopping)) {
      problems.push_back(describe(slot) + " has invalid state " + std::to_string(slot.state));
      continue;
    }

    if (!isLive(slot)) {
      if (slot.port != 0) problems.push_back("free " + describe(slot) + " still has a port");
      if (hasTokens(slot)) problems.push_back("free " + describe(slot) + " still has tokens");
      continue;
    }

    if (textOf(slot.user).empty()) {
      problems.push_back(describe(slot) + " has no user name");
    } else if (auto [first, inserted] = users.emplace(textOf(slot.user), index); !inserted) {
      problems.push_back(describe(slot) + " has the user of slot " + std::to_string(first->second));
    }

    if (static_cast<State>(slot.state) == State::Stopping && hasTokens(slot)) {
      problems.push_back("stopping " + describe(slot) + " still has tokens");
    }
  }
}

void Table::findPortProblems(std::vector<std::string>& problems) const {
  std::vector<std::uint32_t> holders(capacity_, 0);
  for (std::uint32_t index = 0; index < capacity_; ++index) {
    const layout::Slot& slot = view_.slots[index];
    if (!isLive(slot) || slot.port == 0) continue;

    std::optional<std::uint32_t> port_index = portIndex(slot.port);
    if (!port_index) {
      problems.push_back(describe(slot) + " has a port outside " + std::to_string(port_min_) + "-" +
                         std::to_string(port_max_));
    } else if (holders[*port_index] != 0) {
      problems.push_back(describe(slot) + " shares its port with " +
                         ownerName(holders[*port_index]));
    } else {
      holders[*port_index] = index + 1;
    }
  }

  for (std::uint32_t index = 0; index < capacity_; ++index) {
    std::uint32_t owner = view_.ports[index].owner;
    if (owner == holders[index]) continue;

    problems.push_back("port map gives port " + std::to_string(port_min_ + index) + " to " +
                       ownerName(owner) + ", but the session table gives it to " +
                       ownerName(holders[index]));
  }
}

}  // namespace berth::shm
