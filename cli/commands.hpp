#pragma once

#include <string>
#include <vector>

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.1.0"
#endif

namespace berth::cli {

// Each command takes the arguments after its name and returns the process's
// exit status: 0 on success, 1 when the work failed, 2 for a usage error.
int serve(const std::vector<std::string>& args);
int sweep(const std::vector<std::string>& args);
int list(const std::vector<std::string>& args);
int reap(const std::vector<std::string>& args);

}  // namespace berth::cli
