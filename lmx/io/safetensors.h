// The safetensors format (Hugging Face): an 8-byte header length, a JSON
// header naming each tensor's dtype, shape and byte range, then the raw data.
// Loading maps the file: tensors alias its pages, so a large file costs no
// copy and is read lazily as the tensors are used.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "lmx/array.h"

namespace lmx::io {

using StringMap = std::map<std::string, std::string>;

class InputFile;

// The complete file contents; save appends ".safetensors" when the path lacks it.
std::string to_safetensors(const std::map<std::string, array>& arrays, const StringMap& metadata = {});
void save_safetensors(std::string path, const std::map<std::string, array>& arrays, const StringMap& metadata = {});

std::pair<std::map<std::string, array>, StringMap> load_safetensors(const std::shared_ptr<InputFile>& file);
std::pair<std::map<std::string, array>, StringMap> load_safetensors(const std::string& path);

}  // namespace lmx::io
