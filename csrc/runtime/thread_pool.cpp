#include "runtime/thread_pool.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <condition_variable>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fastq {
namespace {

class Pool {
 public:
  Pool() { pthread_atfork(nullptr, nullptr, &Pool::after_fork_in_child); }

  int size() const { return num_threads_.load(); }

  void resize(int n) {
    std::lock_guard<std::mutex> busy(busy_);  // never while a region runs
    stop_workers();
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
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = &fn;
      ntasks_ = ntasks;
      next_ = 0;
      helpers_wanted_ = want - 1;
      ++generation_;
    }
    cv_.notify_all();
    work();
    // Every task has been taken. Helpers that have not woken up yet must not join any more;
    // wait only for those still running a task.
    std::unique_lock<std::mutex> lk(m_);
    helpers_wanted_ = 0;
    done_cv_.wait(lk, [&] { return working_ == 0; });
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
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || (generation_ != seen && helpers_wanted_ > 0); });
      if (stop_) return;
      seen = generation_;
      --helpers_wanted_;
      ++working_;
      lk.unlock();
      work();
      lk.lock();
      if (--working_ == 0) done_cv_.notify_one();
    }
  }

  void start_workers(int n) {
    while (static_cast<int>(workers_->size()) < n) workers_->emplace_back([this] { worker_main(); });
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : *workers_) t.join();
    workers_->clear();
    std::lock_guard<std::mutex> lk(m_);
    stop_ = false;
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
  int working_ = 0, helpers_wanted_ = 0;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
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
  p.working_ = p.helpers_wanted_ = 0;
  p.stop_ = false;
}

}  // namespace

int get_num_threads() { return pool().size(); }

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("set_num_threads: n must be an integer >= 1, got " + std::to_string(n));
  pool().resize(n);
}

void parallel_for(std::size_t ntasks, const std::function<void(std::size_t)>& fn) { pool().run(ntasks, fn); }

}  // namespace fastq
