#include "lmx/backend/cuda/jit.h"

#include <nvrtc.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "lmx/backend/common/embedded_headers.h"
#include "lmx/backend/common/kernel_cache.h"
#include "lmx/backend/cuda/cuda.h"
#include "lmx/backend/cuda/fused_source.h"

namespace lmx::cu {

namespace {

namespace fs = std::filesystem;

// NVRTC has no C++ standard library: these stand in for the standard headers
// the op functors include, mapping them onto libcu++ and the CUDA math
// functions (libcu++ lacks some of <cmath>).
const char* const kStdShim = "#pragma once\n#include <cuda/std/%H%>\nnamespace std { using namespace cuda::std; }\n";
const char* const kMathNames[] = {"erf",   "fmod",  "atan2", "copysign", "nearbyint", "pow",   "expm1", "log1p",
                                  "log2",  "log10", "fabs",  "floor",    "ceil",      "sinh",  "cosh",  "tanh",
                                  "asinh", "acosh", "atanh", "asin",     "acos",      "atan",  "sin",   "cos",
                                  "tan",   "exp",   "log",   "sqrt"};

std::string std_shim(const std::string& header) {
  std::string s = kStdShim;
  s.replace(s.find("%H%"), 3, header);
  if (header == "cmath") {
    s += "namespace std {";
    for (const char* n : kMathNames) s += std::string(" using ::") + n + ";";
    s += " }\n";
  } else if (header == "cstdint") {
    for (const char* t : {"int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t"})
      s += std::string("using cuda::std::") + t + ";\n";
  }
  return s;
}

struct Sources {
  std::vector<std::string> names, texts;
};

const Sources& sources() {
  static const Sources s = [] {
    Sources r;
    for (const auto& h : cuda_jit_headers()) r.names.push_back(h.name), r.texts.push_back(h.text);
    for (const char* h : {"cmath", "complex", "cstdint", "limits", "type_traits"})
      r.names.push_back(h), r.texts.push_back(std_shim(h));
    r.names.push_back("cstring");
    r.texts.push_back("#pragma once\n#include <cuda/std/cstddef>\nnamespace std { using ::memcpy; }\n");
    // dtype.h proper holds host-only code; kernels need only the element types.
    r.names.push_back("lmx/dtype.h");
    r.texts.push_back(
        "#pragma once\n#include <complex>\n#include \"lmx/half_types.h\"\n"
        "namespace lmx { using complex64_t = std::complex<float>; }\n");
    return r;
  }();
  return s;
}

// Directories holding libcu++ (cuda/std/cmath).
std::vector<std::string> include_dirs() {
  std::vector<std::string> roots;
  if (const char* v = std::getenv("LMX_CUDA_INCLUDE")) roots.push_back(v);
  for (const char* var : {"CUDA_HOME", "CUDA_PATH"})
    if (const char* v = std::getenv(var)) roots.push_back(std::string(v) + "/include");
  std::stringstream build_dirs(LMX_CUDA_INCLUDE_DIRS);
  for (std::string d; std::getline(build_dirs, d, ':');) roots.push_back(d);  // ':'-separated, as PATH
  roots.push_back("/usr/local/cuda/include");
  for (const auto& r : roots) {
    std::error_code ec;
    if (fs::exists(r + "/cccl/cuda/std/cmath", ec)) return {r + "/cccl", r};
    if (fs::exists(r + "/cuda/std/cmath", ec)) return {r};
  }
  return {};
}

std::string arch() {
  const cudaDeviceProp& p = device_props();
  return "sm_" + std::to_string(p.major) + std::to_string(p.minor);
}

}  // namespace

// No contraction of a * b + c into one fused multiply-add: a fused kernel
// rounds each op as the separate kernels (built by nvcc from the same
// functors, which see one op at a time) do, so compiling a function does not
// change its results.
constexpr const char* kFloatOptions[] = {"--fmad=false"};

std::string nvrtc_compile(const std::string& source, const std::string& sm) {
  const Sources& s = sources();
  std::vector<const char*> names, texts;
  for (size_t i = 0; i < s.names.size(); ++i) names.push_back(s.names[i].c_str()), texts.push_back(s.texts[i].c_str());
  nvrtcProgram prog;
  if (nvrtcCreateProgram(&prog, source.c_str(), "lmx_fused.cu", static_cast<int>(names.size()), texts.data(),
                         names.data()) != NVRTC_SUCCESS)
    throw std::runtime_error("[compile] NVRTC could not create a program.");
  std::vector<std::string> opts = {"--std=c++20", "-arch=" + sm, "-default-device", "-diag-suppress=997"};
  for (const char* o : kFloatOptions) opts.push_back(o);
  for (auto& d : include_dirs()) opts.push_back("-I" + d);
  std::vector<const char*> copts;
  for (auto& o : opts) copts.push_back(o.c_str());
  nvrtcResult r = nvrtcCompileProgram(prog, static_cast<int>(copts.size()), copts.data());
  std::string result;
  if (r == NVRTC_SUCCESS) {
    size_t n = 0;
    nvrtcGetCUBINSize(prog, &n);
    result.resize(n);
    nvrtcGetCUBIN(prog, result.data());
  } else {
    size_t n = 0;
    nvrtcGetProgramLogSize(prog, &n);
    std::string log(n, '\0');
    nvrtcGetProgramLog(prog, log.data());
    nvrtcDestroyProgram(&prog);
    throw std::runtime_error("[compile] NVRTC failed to compile a fused kernel:\n" + log);
  }
  nvrtcDestroyProgram(&prog);
  return result;
}

namespace {

// The cubin for source: from the disk cache, or compiled and stored there.
std::string cubin_for(const std::string& source) {
  const std::string sm = arch();
  int major = 0, minor = 0;
  nvrtcVersion(&major, &minor);
  std::string key_text = source + "|" + sm + "|nvrtc" + std::to_string(major) + "." + std::to_string(minor);
  for (const char* o : kFloatOptions) key_text += std::string("|") + o;
  for (const auto& h : cuda_jit_headers()) key_text += h.text;  // a new library version recompiles
  std::ostringstream key;
  key << std::hex << std::hash<std::string>{}(key_text);
  fs::path dir = kernel_cache_root();
  fs::path file = dir.empty() ? fs::path() : dir / (key.str() + ".cubin");
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (in) return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string cubin = nvrtc_compile(source, sm);
  if (!file.empty()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    write_file_atomically(file, cubin);  // a cache: a failed write only costs a compile later
  }
  return cubin;
}

}  // namespace

bool jit_available() {
  static const bool ok = !include_dirs().empty();
  return ok;
}

cudaKernel_t jit_kernel(const std::string& name, const std::string& source) {
  static std::mutex mu;
  static std::unordered_map<std::string, cudaKernel_t> loaded;
  std::lock_guard lk(mu);
  auto it = loaded.find(source);
  if (it != loaded.end()) return it->second;
  std::string cubin = cubin_for(source);
  cudaLibrary_t lib;
  LMX_CUDA_CHECK(cudaLibraryLoadData(&lib, cubin.data(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  cudaKernel_t k;
  LMX_CUDA_CHECK(cudaLibraryGetKernel(&k, lib, name.c_str()));
  loaded.emplace(source, k);  // libraries stay loaded for the process
  return k;
}

}  // namespace lmx::cu
