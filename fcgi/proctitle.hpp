#pragma once

#include <string>

namespace berth::fcgi {

// Prepares the process title: moves the environment out of the memory that
// follows argv, as nginx does, so that setProcessTitle can use all of it.
// Call once from main() before any thread starts.
void initProcessTitle(int argc, char** argv);

// Sets the title that ps and top show (the argv area) and the thread name
// (prctl PR_SET_NAME, cut to 15 bytes), e.g. "berth: worker 1".
void setProcessTitle(const std::string& title);

}  // namespace berth::fcgi
