// A small persistent pool of std::threads (not OpenMP: OpenMP runtimes clash between wheels and
// are not fork-safe). The caller's thread works too. One parallel region at a time: a second
// caller (another Python thread) finds the pool busy and runs its tasks itself, so concurrent
// calls never wait on each other and results never depend on who ran which task.
#pragma once
#include <cstddef>
#include <functional>

namespace fastq {
int get_num_threads();
void set_num_threads(int n);  // n >= 1; throws std::invalid_argument otherwise
// Runs fn(0) ... fn(ntasks - 1), each exactly once, on up to get_num_threads() threads.
void parallel_for(std::size_t ntasks, const std::function<void(std::size_t)>& fn);
}  // namespace fastq
