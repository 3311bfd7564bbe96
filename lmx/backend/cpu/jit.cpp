#include "lmx/backend/cpu/jit.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "lmx/backend/common/embedded_headers.h"
#include "lmx/backend/common/kernel_cache.h"
#include "lmx/backend/cpu/isa.h"

namespace lmx::cpu {

namespace fs = std::filesystem;

JitMode jit_mode() {
  const char* env = std::getenv("LMX_CPU_JIT");
  const std::string v = env ? env : "";
  if (v.empty() || v == "1") return JitMode::background;
  if (v == "0") return JitMode::off;
  if (v == "always") return JitMode::always;
  throw std::invalid_argument("[compile] LMX_CPU_JIT must be 0, 1 or always, got '" + v + "'.");
}

namespace {

std::string compiler() {
  for (const char* var : {"LMX_CXX", "CXX"})
    if (const char* v = std::getenv(var); v && *v) return v;
  return "c++";
}

// The generated code is built for the instruction set the ahead-of-time
// kernels run here (backend/cpu/isa.h), with their language mode: GNU C++
// contracts a * b + c inside an op's functor as those kernels do (the
// generated code keeps steps apart, fused_prelude.h), and -fno-math-errno
// as the library; -fopenmp-simd for the prelude's lane loops.
std::string flags() {
  std::string f =
      "-std=gnu++20 -O3 -fno-math-errno -fopenmp-simd -fPIC -shared -fvisibility=hidden -w -DLMX_CPU_ISA=jit";
  switch (active_isa()) {
    case Isa::avx512: return f + " -march=x86-64-v4";
    case Isa::avx2: return f + " -march=x86-64-v3";
    default: return f;
  }
}

std::string hex(uint64_t h) {
  std::ostringstream s;
  s << std::hex << h;
  return s.str();
}

// A path in single quotes for the shell.
std::string quoted(const fs::path& p) {
  std::string s = "'";
  for (char c : p.string()) s += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return s + "'";
}

void write_file(const fs::path& file, const std::string& text) {
  if (!write_file_atomically(file, text)) throw std::runtime_error("[compile] could not write " + file.string());
}

// Where sources, libraries and the embedded headers go: the kernel cache,
// or a directory of this process's own where there is no home.
// (The paths below are never destroyed: the background compiler may still
// be using them while the process exits.)
const fs::path& cache_dir() {
  static const fs::path* dir = new fs::path([] {
    const fs::path root = kernel_cache_root();
    if (!root.empty()) {
      std::error_code ec;
      fs::create_directories(root / "cpu", ec);
      if (fs::is_directory(root / "cpu", ec)) return root / "cpu";
    }
    std::string tmpl = (fs::temp_directory_path() / "lmx-cpu-kernels-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("[compile] no directory for compiled CPU kernels");
    return fs::path(tmpl);
  }());
  return *dir;
}

// The embedded headers, written once under a name that changes with their
// text (a newer lmx gets its own copy).
const fs::path& include_dir() {
  static const fs::path* dir = new fs::path([] {
    std::string all;
    for (const auto& h : cpu_jit_headers()) all += std::string(h.name) + '\n' + h.text;
    fs::path d = cache_dir() / ("include-" + hex(std::hash<std::string>{}(all)));
    if (!fs::exists(d / ".complete")) {
      for (const auto& h : cpu_jit_headers()) {
        fs::create_directories((d / h.name).parent_path());
        write_file(d / h.name, h.text);
      }
      write_file(d / ".complete", "");
    }
    return d;
  }());
  return *dir;
}

// Compiles source into a library (or finds it compiled before) and returns
// the function; throws with the compiler's output when it fails.
void* build(const std::string& source, const std::string& cxx, const char* name) {
  const std::string f = flags();
  const fs::path inc = include_dir();
  const std::string key = hex(std::hash<std::string>{}(source + '\n' + cxx + '\n' + f + '\n' + inc.string()));
  const fs::path lib = cache_dir() / (key + ".so");
  if (!fs::exists(lib)) {
    const fs::path src = cache_dir() / (key + ".cpp");
    write_file(src, source);
    const fs::path tmp = temporary_sibling(lib);
    const std::string cmd =
        cxx + " " + f + " -I" + quoted(inc) + " -o " + quoted(tmp) + " " + quoted(src) + " 2>&1";
    std::string log;
    int status = -1;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[512];
      while (size_t n = std::fread(buf, 1, sizeof buf, p)) log.append(buf, n);
      status = ::pclose(p);
    }
    if (status != 0) {
      std::error_code ec;
      fs::remove(tmp, ec);
      if (log.size() > 4000) log = log.substr(0, 4000) + "\n...";
      const std::string why = status == -1 ? "could not be started"
                              : WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                                  : "was stopped by a signal";
      throw std::runtime_error("[compile] the C++ compiler '" + cxx + "' " + why + " on a fused CPU kernel (" +
                               src.string() + "):\n" + log +
                               "\nSet LMX_CXX to a working compiler, or LMX_CPU_JIT=0 to run compiled "
                               "functions without generated CPU kernels.");
    }
    fs::rename(tmp, lib);
  }
  void* handle = ::dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);  // never closed: its kernels are kept
  if (!handle) throw std::runtime_error(std::string("[compile] could not load a fused CPU kernel: ") + ::dlerror());
  void* fn = ::dlsym(handle, name);
  if (!fn) throw std::runtime_error("[compile] " + lib.string() + " has no function " + name);
  return fn;
}

// What is known of each source and compiler: compiling (not done), ready,
// or failed (an error).
struct Entry {
  void* fn = nullptr;
  bool done = false;
  std::string error;
};

// A kernel to compile: `key` names it with `cxx` (the registry's key), the
// source is written only for a key not seen before.
struct Job {
  std::string key, cxx;
  const char* name;
  std::string source;
  std::string registry_key() const { return cxx + '\n' + key; }
};

class Registry {
 public:
  void* get(Job job, const std::function<std::string()>& source, bool wait) {
    std::unique_lock lk(mu_);
    auto [it, fresh] = entries_.try_emplace(job.registry_key());
    Entry& e = it->second;
    if (fresh) job.source = source();
    if (!wait) {
      if (fresh) {
        queue_.push_back(std::move(job));
        if (!worker_started_) {
          worker_started_ = true;
          std::thread([this] { work(); }).detach();  // lives for the process, as the kernels it loads
        }
        cv_.notify_all();
      }
      return e.fn;
    }
    if (fresh) {  // compiled here, with other requests free to proceed meanwhile
      lk.unlock();
      finish(job);
      lk.lock();
    } else {
      cv_.wait(lk, [&] { return e.done; });
    }
    if (!e.error.empty()) throw std::runtime_error(e.error);
    return e.fn;
  }

 private:
  // Compiles and records the outcome; an exception is kept as the error.
  void finish(const Job& job) {
    void* fn = nullptr;
    std::string error;
    try {
      fn = build(job.source, job.cxx, job.name);
    } catch (const std::exception& ex) {
      error = ex.what();
      if (error.empty()) error = "[compile] a fused CPU kernel failed to compile";
    }
    std::lock_guard lk(mu_);
    Entry& e = entries_[job.registry_key()];
    e.fn = fn, e.error = error, e.done = true;
    cv_.notify_all();
  }

  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      finish(job);
      std::lock_guard lk(mu_);
      if (const std::string& error = entries_[job.registry_key()].error; !error.empty() && !warned_) {
        warned_ = true;
        std::fprintf(stderr, "lmx: %s\nlmx: compiled CPU chains run through the interpreter instead.\n",
                     error.c_str());
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<Job> queue_;
  bool worker_started_ = false, warned_ = false;
};

Registry& registry() {
  static auto* r = new Registry();  // never destroyed: the background thread may still use it at exit
  return *r;
}

}  // namespace

void* jit_function(const std::string& key, const std::function<std::string()>& source, const char* name,
                   bool wait) {
  return registry().get(Job{key, compiler(), name, {}}, source, wait);
}

}  // namespace lmx::cpu
