#include "runtime/thread_pool.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fastq {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// How long an idle worker (or a caller waiting for workers) polls before it sleeps on a
// condition variable: waking a sleeping thread costs tens of microseconds on a VM, more than
// a whole pass over 1e6 floats, so back-to-back calls must find their helpers awake.
constexpr int kSpinIterations = 20000;

// Protocol (all atomics sequentially consistent):
//  - run() publishes job_/ntasks_/next_, then slots_ (how many helpers may join), then bumps
//    generation_; it works on the tasks itself, then closes slots_ and waits for working_ == 0.
//  - a worker that sees a new generation increments working_ *before* it tries to take a slot,
//    and decrements it when done (or when no slot was left). So once run() has closed slots_
//    and seen working_ == 0, no worker can still touch the job.
class Pool {
 public:
  Pool() { pthread_atfork(nullptr, nullptr, &Pool::after_fork_in_child); }

  int size() const { return num_threads_.load(); }

  // Only changes how many threads join a region: workers are started on first need and kept
  // (parked) when the count shrinks, so switching thread counts costs nothing.
  void resize(int n) {
    std::lock_guard<std::mutex> busy(busy_);  // never while a region runs
    num_threads_ = n;
  }

  void run(std::size_t ntasks, const std::function<void(std::size_t)>& fn) {
    const int want = static_cast<int>(std::min<std::size_t>(ntasks, static_cast<std::size_t>(size())));
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (want <= 1 || !busy.owns_lock()) {  // small, or the pool is busy: run here
      for (std::size_t i = 0; i < ntasks; ++i) fn(i);
      return;
    }
    start_workers(num_threads_ - 1);
    job_ = &fn;
    ntasks_ = ntasks;
    next_ = 0;
    slots_ = want - 1;
    generation_.fetch_add(1);
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lk(m_);
      cv_.notify_all();
    }
    work();
    slots_ = 0;  // every task is taken: late helpers must not join
    for (int spin = 0; working_.load() != 0; ++spin) {
      if (spin < kSpinIterations) {
        cpu_relax();
        continue;
      }
      std::unique_lock<std::mutex> lk(m_);
      done_cv_.wait(lk, [&] { return working_.load() == 0; });
    }
    job_ = nullptr;
  }

 private:
  void work() {
    for (;;) {
      const std::size_t i = next_.fetch_add(1);
      if (i >= ntasks_) return;
      (*job_)(i);
    }
  }

  void worker_main() {
    std::uint64_t seen = generation_.load();
    for (;;) {
      // Wait for a new region: poll a while, then sleep.
      for (int spin = 0; generation_.load() == seen;) {
        if (spin++ < kSpinIterations) {
          cpu_relax();
          continue;
        }
        std::unique_lock<std::mutex> lk(m_);
        sleepers_.fetch_add(1);
        cv_.wait(lk, [&] { return generation_.load() != seen; });
        sleepers_.fetch_sub(1);
        spin = 0;
      }
      seen = generation_.load();
      working_.fetch_add(1);
      int s = slots_.load();
      while (s > 0 && !slots_.compare_exchange_weak(s, s - 1)) {
      }
      if (s > 0) work();
      if (working_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lk(m_);
        done_cv_.notify_all();
      }
    }
  }

  void start_workers(int n) {
    while (static_cast<int>(workers_->size()) < n) workers_->emplace_back([this] { worker_main(); });
  }

  // In a forked child only the forking thread exists: forget the workers (never join them) and
  // re-create the locks; the pool starts new workers on first use.
  static void after_fork_in_child();

  std::atomic<int> num_threads_{1};
  std::mutex busy_, m_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread>* workers_ = new std::vector<std::thread>();
  const std::function<void(std::size_t)>* job_ = nullptr;
  std::size_t ntasks_ = 0;
  std::atomic<std::size_t> next_{0};
  std::atomic<int> slots_{0}, working_{0}, sleepers_{0};
  std::atomic<std::uint64_t> generation_{0};
};

int default_threads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

Pool& pool() {
  // Never destroyed: worker threads may still be parked at interpreter exit.
  static Pool* p = [] {
    auto* q = new Pool();
    q->resize(default_threads());
    return q;
  }();
  return *p;
}

void Pool::after_fork_in_child() {
  Pool& p = pool();
  p.workers_ = new std::vector<std::thread>();  // the old thread handles are meaningless here
  new (&p.busy_) std::mutex();
  new (&p.m_) std::mutex();
  new (&p.cv_) std::condition_variable();
  new (&p.done_cv_) std::condition_variable();
  p.job_ = nullptr;
  p.slots_ = 0;
  p.working_ = 0;
  p.sleepers_ = 0;
}

}  // namespace

int get_num_threads() { return pool().size(); }

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("set_num_threads: n must be an integer >= 1, got " + std::to_string(n));
  pool().resize(n);
}

void parallel_for(std::size_t ntasks, const std::function<void(std::size_t)>& fn) { pool().run(ntasks, fn); }

}  // namespace fastq
