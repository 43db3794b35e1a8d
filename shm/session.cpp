#include "shm/session.hpp"

namespace berth::shm {

const char* stateName(State state) {
  switch (state) {
    case State::Free:
      return "free";
    case State::Starting:
      return "starting";
    case State::Running:
      return "running";
    case State::Stopping:
      return "stopping";
  }
  return "invalid";
}

}  // namespace berth::shm
