// SPDX-License-Identifier: MIT
// Allocation tracking for the unit tests: the global operator new/delete are replaced (in
// alloc_tracker.cpp, a translation unit of its own so that the optimiser never inlines the
// malloc/free pair into a caller and reports a false new/delete mismatch) to record the largest
// single allocation made while tracking is on.
#pragma once

#include <cstddef>

namespace unit {

void alloc_tracking(bool on);     // start (resetting the maximum) or stop tracking
std::size_t alloc_tracked_max();  // largest single allocation while tracking was on

}  // namespace unit
