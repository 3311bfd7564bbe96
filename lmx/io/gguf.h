// The GGUF format (llama.cpp's model files, versions 2 and 3): typed
// metadata, then tensors in GGML's plain and block-quantised types.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "lmx/array.h"

namespace lmx::io {

// A metadata value: numbers and bools are 0-d (scalars) or 1-d (arrays)
// arrays; strings and lists of strings stay strings.
using GGUFMetaData = std::variant<std::monostate, array, std::string, std::vector<std::string>>;
using GGUFMetaMap = std::map<std::string, GGUFMetaData>;

class InputFile;

// The complete file contents; save appends ".gguf" when the path lacks it.
std::string to_gguf(const std::map<std::string, array>& arrays, const GGUFMetaMap& metadata = {});
void save_gguf(std::string path, const std::map<std::string, array>& arrays, const GGUFMetaMap& metadata = {});

// Plain tensors alias the mapped file. Q4_0, Q4_1 and Q8_0 tensors become
// MLX's affine quantisation (group size 32): "<base>.weight" (uint32),
// "<base>.scales" and "<base>.biases" (float16), as MLX's loader gives them.
// Q5_0, Q5_1 and the K-quants Q2_K..Q6_K are dequantised to float16.
std::pair<std::map<std::string, array>, GGUFMetaMap> load_gguf(const std::shared_ptr<InputFile>& file);
std::pair<std::map<std::string, array>, GGUFMetaMap> load_gguf(const std::string& path);

}  // namespace lmx::io
