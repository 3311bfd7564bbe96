// libFuzzer harness for every file reader in lmx/io. The first input byte
// picks the format; the rest is the file. A reader may accept the input or
// throw; anything else (a crash, an out-of-bounds read that AddressSanitizer
// sees, a leak) is a bug. Run with tests/fuzz/run.sh.
#include <cstdint>
#include <exception>
#include <string>

#include "lmx/io/file.h"
#include "lmx/io/gguf.h"
#include "lmx/io/npy.h"
#include "lmx/io/npz.h"
#include "lmx/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 4) {
      case 0: lmx::io::from_npy(bytes, "fuzz.npy").eval(); break;
      case 1: lmx::io::from_npz(bytes, "fuzz.npz"); break;
      case 2: lmx::io::load_safetensors(lmx::io::InputFile::from_bytes(bytes, "fuzz.safetensors")); break;
      case 3: lmx::io::load_gguf(lmx::io::InputFile::from_bytes(bytes, "fuzz.gguf")); break;
    }
  } catch (const std::exception&) {
  }
  return 0;
}
