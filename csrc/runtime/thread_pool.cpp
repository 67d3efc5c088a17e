#include "runtime/thread_pool.hpp"

#include <pthread.h>
#if defined(__linux__)
#include <sched.h>
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <memory>
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

thread_local InterruptScope* tl_scope = nullptr;  // this thread's innermost InterruptScope

// A participant's share of a region's tasks: [lo, hi) packed in one word (lo | hi << 32), so
// its owner taking from the front and others taking from the back never take the same task.
struct alignas(64) Share {
  std::atomic<std::uint64_t> span{0};

  bool take_front(std::size_t& i) {
    std::uint64_t v = span.load();
    for (;;) {
      const std::uint64_t lo = v & 0xffffffffu, hi = v >> 32;
      if (lo >= hi) return false;
      if (span.compare_exchange_weak(v, v + 1)) {
        i = static_cast<std::size_t>(lo);
        return true;
      }
    }
  }
  bool take_back(std::size_t& i) {
    std::uint64_t v = span.load();
    for (;;) {
      const std::uint64_t lo = v & 0xffffffffu, hi = v >> 32;
      if (lo >= hi) return false;
      if (span.compare_exchange_weak(v, v - (std::uint64_t(1) << 32))) {
        i = static_cast<std::size_t>(hi - 1);
        return true;
      }
    }
  }
};

// At most this many tasks per region (a share's bounds are 32-bit); parallel_for runs longer
// lists as consecutive regions.
constexpr std::size_t kMaxRegionTasks = std::size_t(1) << 31;
constexpr int kInlineShares = 4;

// One parallel region, on its caller's stack. Its tasks are dealt in contiguous shares, one per
// participant (the caller is 0, worker k is k + 1), so that consecutive regions split the same
// way (the pixels of one image, the images of a batch) run each part on the same core, where
// the previous op left its output in cache: on a 2-vCPU VM an op reading what the other core
// wrote ran up to 1.7x slower than alone. A participant takes its own share front to back,
// then the others' from the back: a late or descheduled thread's share is done by the others.
struct Region {
  const std::function<void(std::size_t)>* fn;
  int parts = 1;
  Share* shares;
  Share inline_shares[kInlineShares];
  std::unique_ptr<Share[]> more_shares;
  std::atomic<bool> cancelled{false};
  std::mutex error_m;
  std::exception_ptr error;  // the first exception (or Interrupted)

  // ntasks <= kMaxRegionTasks; shares' sizes differ by at most one task.
  Region(const std::function<void(std::size_t)>& f, std::size_t ntasks, int participants)
      : fn(&f), parts(participants) {
    if (parts > kInlineShares) more_shares.reset(new Share[static_cast<std::size_t>(parts)]);
    shares = parts > kInlineShares ? more_shares.get() : inline_shares;
    const std::size_t p = static_cast<std::size_t>(parts), base = ntasks / p, extra = ntasks % p;
    for (std::size_t k = 0; k < p; ++k) {
      const std::uint64_t lo = k * base + std::min(k, extra), hi = lo + base + (k < extra);
      shares[k].span.store(lo | hi << 32);
    }
  }

  bool take(int id, std::size_t& i) {
    if (shares[id].take_front(i)) return true;
    for (int d = 1; d < parts; ++d)
      if (shares[(id + d) % parts].take_back(i)) return true;
    return false;
  }

  void fail(std::exception_ptr e) {
    {
      std::lock_guard<std::mutex> lk(error_m);
      if (!error) error = std::move(e);
    }
    cancelled.store(true);
  }
};

// The region this thread is working in (a worker's or the owner's), and whether it owns it.
thread_local Region* tl_region = nullptr;
thread_local bool tl_owner = false;

struct RegionGuard {  // sets tl_region / tl_owner for the duration of a region
  Region* saved;
  bool saved_owner;
  RegionGuard(Region* r, bool owner) : saved(tl_region), saved_owner(tl_owner) {
    tl_region = r;
    tl_owner = owner;
  }
  ~RegionGuard() {
    tl_region = saved;
    tl_owner = saved_owner;
  }
};

// Takes and runs tasks until none is left or the region is cancelled. Never throws. The owner
// (participant 0) polls its InterruptScope between tasks.
void work(Region& r, int id) {
  const bool owner = id == 0;
  for (;;) {
    if (r.cancelled.load(std::memory_order_relaxed)) return;
    if (owner && tl_scope && tl_scope->poll_if_due()) {
      r.fail(std::make_exception_ptr(Interrupted()));
      return;
    }
    std::size_t i;
    if (!r.take(id, i)) return;
    try {
      (*r.fn)(i);
    } catch (...) {
      r.fail(std::current_exception());
      return;
    }
  }
}

// Runs a region on the calling thread alone, in task order.
void run_here(Region& r) {
  RegionGuard g(&r, true);
  work(r, 0);
}

void finish(Region& r) {
  if (r.error) std::rethrow_exception(r.error);
}

// Protocol (all atomics sequentially consistent):
//  - run() publishes region_, then slots_ (how many helpers may join: workers 0 .. slots_ - 1),
//    then bumps generation_; it works on the tasks itself, then closes slots_ and waits for
//    working_ == 0.
//  - a worker that sees a new generation increments working_ *before* it reads slots_, and
//    decrements it when done (or when it had no place). So once run() has closed slots_ and
//    seen working_ == 0, no worker can still touch the region.
class Pool {
 public:
  Pool() { pthread_atfork(nullptr, nullptr, &Pool::after_fork_in_child); }

  int size() const { return num_threads_.load(); }
  int started() {
    std::lock_guard<std::mutex> lk(workers_m_);
    return static_cast<int>(workers_->size());
  }

  // Only changes how many threads join a region: workers are started on first need and kept
  // (parked) when the count shrinks, so switching thread counts costs nothing.
  // No lock: a region reads the count once, when it starts. (Taking busy_ here could deadlock:
  // a caller holding the GIL would wait for a region whose owner waits for the GIL to poll.)
  void resize(int n) { num_threads_ = n; }

  void run(std::size_t ntasks, const std::function<void(std::size_t)>& fn) {
    const int want = static_cast<int>(std::min<std::size_t>(ntasks, static_cast<std::size_t>(size())));
    // Small, or nested inside a task (the owner thread must not try_lock its own mutex), or the
    // pool is busy with another caller's region: run here.
    if (want <= 1 || tl_region) return run_alone(ntasks, fn);
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return run_alone(ntasks, fn);
    const int helpers = start_workers(want - 1);
    if (helpers == 0) {
      busy.unlock();
      return run_alone(ntasks, fn);
    }
    Region r(fn, ntasks, helpers + 1);
    region_ = &r;
    slots_ = helpers;
    generation_.fetch_add(1);
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lk(m_);
      cv_.notify_all();
    }
    {
      RegionGuard g(&r, true);
      work(r, 0);
    }
    slots_ = 0;  // every task is taken (or the region is cancelled): late helpers must not join
    for (int spin = 0; working_.load() != 0; ++spin) {
      if (spin < kSpinIterations) {
        cpu_relax();
        continue;
      }
      std::unique_lock<std::mutex> lk(m_);
      done_cv_.wait(lk, [&] { return working_.load() == 0; });
    }
    region_ = nullptr;
    busy.unlock();
    finish(r);
  }

 private:
  static void run_alone(std::size_t ntasks, const std::function<void(std::size_t)>& fn) {
    Region r(fn, ntasks, 1);
    run_here(r);
    finish(r);
  }

  // Worker k joins a region as participant k + 1 when the region has a place for it (k < slots_).
  void worker_main(int k) {
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
      if (k < slots_.load()) {
        Region* r = region_;
        RegionGuard g(r, false);
        work(*r, k + 1);
      }
      if (working_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lk(m_);
        done_cv_.notify_all();
      }
    }
  }

  // Makes sure n workers exist, as far as the OS allows; returns how many there are (<= n used).
  int start_workers(int n) {
    std::lock_guard<std::mutex> lk(workers_m_);
    try {
      while (static_cast<int>(workers_->size()) < n) {
        const int k = static_cast<int>(workers_->size());
        workers_->emplace_back([this, k] { worker_main(k); });
      }
    } catch (...) {  // std::system_error (EAGAIN: thread limit) or std::bad_alloc: use what we have
    }
    return std::min(n, static_cast<int>(workers_->size()));
  }

  // In a forked child only the forking thread exists: forget the workers (never join them) and
  // re-create the locks; the pool starts new workers on first use.
  static void after_fork_in_child();

  std::atomic<int> num_threads_{1};
  std::mutex busy_, m_, workers_m_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread>* workers_ = new std::vector<std::thread>();
  Region* region_ = nullptr;
  std::atomic<int> slots_{0}, working_{0}, sleepers_{0};
  std::atomic<std::uint64_t> generation_{0};
};

// ceil(quota / period) of the tightest cpu.max on this process's cgroup v2 path; 0 if none.
int cgroup_cpu_limit() {
#if defined(__linux__)
  std::ifstream cg("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(cg, line))
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  if (path.empty()) return 0;
  int best = 0;
  for (;;) {
    std::ifstream f("/sys/fs/cgroup" + (path == "/" ? std::string() : path) + "/cpu.max");
    std::string quota;
    double period = 0;
    if (f >> quota >> period && quota != "max" && period > 0) {
      const double q = std::atof(quota.c_str());
      if (q > 0) {
        const double lim = std::ceil(q / period);
        const int l = lim > kMaxThreads ? kMaxThreads : std::max(1, static_cast<int>(lim));
        best = best == 0 ? l : std::min(best, l);
      }
    }
    if (path.empty() || path == "/") break;
    const auto slash = path.find_last_of('/');
    path = slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
  }
  return best;
#else
  return 0;
#endif
}

int affinity_cpus() {
#if defined(__linux__)
  for (int ncpu = 1024; ncpu <= (1 << 16); ncpu *= 4) {
    cpu_set_t* set = CPU_ALLOC(ncpu);
    if (!set) break;
    const std::size_t size = CPU_ALLOC_SIZE(ncpu);
    CPU_ZERO_S(size, set);
    const int rc = sched_getaffinity(0, size, set);
    const int count = rc == 0 ? CPU_COUNT_S(size, set) : 0;
    CPU_FREE(set);
    if (rc == 0) return count;
  }
#endif
  const unsigned hw = std::thread::hardware_concurrency();
  return static_cast<int>(hw);
}

Pool& pool() {
  // Never destroyed: worker threads may still be parked at interpreter exit.
  static Pool* p = [] {
    auto* q = new Pool();
    q->resize(default_num_threads());
    return q;
  }();
  return *p;
}

void Pool::after_fork_in_child() {
  Pool& p = pool();
  p.workers_ = new std::vector<std::thread>();  // the old thread handles are meaningless here
  new (&p.busy_) std::mutex();
  new (&p.m_) std::mutex();
  new (&p.workers_m_) std::mutex();
  new (&p.cv_) std::condition_variable();
  new (&p.done_cv_) std::condition_variable();
  p.region_ = nullptr;
  p.slots_ = 0;
  p.working_ = 0;
  p.sleepers_ = 0;
}

}  // namespace

InterruptScope::InterruptScope(Poll poll, void* ctx)
    : poll_(poll), ctx_(ctx), outer_(tl_scope), last_(std::chrono::steady_clock::now()) {
  tl_scope = this;
}

InterruptScope::~InterruptScope() { tl_scope = outer_; }

bool InterruptScope::poll_if_due() {
  if (interrupted_) return true;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < kPollInterval) return false;
  last_ = now;
  interrupted_ = poll_(ctx_);
  return interrupted_;
}

int default_num_threads() {
  int n = affinity_cpus();
  const int quota = cgroup_cpu_limit();
  if (quota > 0 && (n <= 0 || quota < n)) n = quota;
  return std::max(1, std::min(n, kMaxThreads));
}

int started_workers() { return pool().started(); }

int get_num_threads() { return pool().size(); }

void set_num_threads(int n) {
  if (n < 1 || n > kMaxThreads)
    throw std::invalid_argument("set_num_threads: n must be an integer in 1.." + std::to_string(kMaxThreads) +
                                ", got " + std::to_string(n));
  pool().resize(n);
}

void parallel_for(std::size_t ntasks, const std::function<void(std::size_t)>& fn) {
  if (ntasks <= kMaxRegionTasks) {
    if (ntasks) pool().run(ntasks, fn);
    return;
  }
  for (std::size_t base = 0; base < ntasks; base += kMaxRegionTasks)
    pool().run(std::min(kMaxRegionTasks, ntasks - base), [&](std::size_t i) { fn(base + i); });
}

void chunked_for(std::size_t n, std::size_t grain, const std::function<void(std::size_t, std::size_t)>& fn) {
  if (n == 0) return;
  grain = std::max<std::size_t>(grain, 1);
  const std::size_t tasks = n / grain + (n % grain != 0);
  parallel_for(tasks, [&](std::size_t i) {
    const std::size_t a = i * grain;
    fn(a, a + std::min(grain, n - a));
  });
}

bool checkpoint() {
  Region* r = tl_region;
  if (!r) return tl_scope && tl_scope->poll_if_due();
  if (tl_owner && tl_scope && tl_scope->poll_if_due()) r->fail(std::make_exception_ptr(Interrupted()));
  return r->cancelled.load(std::memory_order_relaxed);
}

}  // namespace fastq
