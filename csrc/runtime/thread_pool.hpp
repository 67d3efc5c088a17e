// A small persistent pool of std::threads (not OpenMP: OpenMP runtimes clash between wheels and
// are not fork-safe) and the parallel regions every kernel family runs on. Baseline code; no
// Python here: the bindings pass their Ctrl-C check in as a plain callback (InterruptScope).
//
// Contract of a parallel region (parallel_for / chunked_for), for every kernel family:
//  - Tasks run on the calling thread and on up to get_num_threads() - 1 workers. Workers are
//    started only when a region has tasks for them, and kept. If the OS refuses a new thread,
//    the region runs on the threads it has (never an error). One region at a time: a second
//    caller (another Python thread), or a region started inside a task, finds the pool busy and
//    runs its tasks itself, in order, so concurrent calls never wait on each other.
//  - Which thread runs a task is unspecified: a task must compute the same thing wherever it
//    runs (results never depend on the thread count). For speed, not correctness, the tasks are
//    dealt in contiguous shares, the first to the caller, the next to worker 1, ...: two
//    regions split the same way run the same parts on the same threads when none is late.
//  - Exceptions: a task may throw (std::bad_alloc, ...). The first exception thrown cancels the
//    region (no new task starts; running ones finish), and parallel_for rethrows it on the
//    calling thread after every thread has left the region. Nothing escapes a worker.
//  - Cancellation (Ctrl-C): while an InterruptScope is alive on the calling thread, the region
//    calls its poll() on that thread between tasks, about every kPollInterval; when poll()
//    returns true the region is cancelled as above and parallel_for throws Interrupted. Tasks
//    must therefore be short: at most a few milliseconds each on one core (split long loops with
//    chunked_for, or call checkpoint() between pieces of a long task and return when it says so).
//    Outputs written by a cancelled region are partial; inputs are never touched by the pool.
//  - After an exception or a cancellation the pool is idle and usable; no thread is lost.
#pragma once
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>

namespace fastq {
// The valid thread counts are 1..kMaxThreads (set_num_threads, FASTQ_NUM_THREADS).
constexpr int kMaxThreads = 1024;
constexpr std::chrono::milliseconds kPollInterval{20};

int get_num_threads();
// 1 <= n <= kMaxThreads; throws std::invalid_argument otherwise. Starts no thread.
void set_num_threads(int n);
// The CPUs this process may run on: the affinity mask (sched_getaffinity), capped by the cgroup
// v2 CPU quota (cpu.max of this process's cgroup and its parents, rounded up) where one is
// set; at least 1, at most kMaxThreads. The pool's initial thread count.
int default_num_threads();
// How many worker threads exist now (started on demand; for tests).
int started_workers();

// Thrown by a region whose InterruptScope's poll() returned true.
struct Interrupted : std::exception {
  const char* what() const noexcept override { return "fastq: interrupted"; }
};

// While alive, regions started by this thread poll `poll(ctx)` (on this thread only). Nests:
// the innermost scope is the one used. interrupted(): poll() has returned true.
class InterruptScope {
 public:
  using Poll = bool (*)(void* ctx);
  InterruptScope(Poll poll, void* ctx);
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
  bool interrupted() const { return interrupted_; }
  // Calls poll() if kPollInterval has passed since the last call; true once it has said stop.
  bool poll_if_due();

 private:
  Poll poll_;
  void* ctx_;
  InterruptScope* outer_;
  std::chrono::steady_clock::time_point last_;
  bool interrupted_ = false;
};

// Runs fn(0) ... fn(ntasks - 1), each at most once (exactly once unless the region is
// cancelled), on up to get_num_threads() threads. See the contract above.
void parallel_for(std::size_t ntasks, const std::function<void(std::size_t)>& fn);

// Splits [0, n) into consecutive ranges of `grain` items (the last one shorter) and runs
// fn(begin, end) for each as one task of parallel_for. grain >= 1. n == 0: nothing runs.
void chunked_for(std::size_t n, std::size_t grain, const std::function<void(std::size_t, std::size_t)>& fn);

// Inside a task: true when the region is cancelled (the task may return early; its output is
// discarded). On the thread that owns the region it also polls the InterruptScope when due.
// Outside any region: polls this thread's InterruptScope when due (single-threaded loops).
bool checkpoint();
}  // namespace fastq
