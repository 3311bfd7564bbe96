// The C++ side of the file formats: what a C++ user of lmx/io sees.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "lmx/io/gguf.h"
#include "lmx/io/npz.h"
#include "lmx/io/safetensors.h"
#include "lmx/lmx.h"

using namespace lmx;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("lmx_test_io_" + name)).string();
}

void expect_equal(array a, array b) {
  ASSERT_EQ(a.shape(), b.shape());
  ASSERT_EQ(a.dtype(), b.dtype());
  EXPECT_TRUE(array_equal(a, b).item<bool>());
}

}  // namespace

TEST(IO, SafetensorsRoundTripAliasesTheFile) {
  auto path = temp_path("a.safetensors");
  array w = reshape(arange(0, 12, 1, float32), {3, 4});
  io::save_safetensors(path, {{"w", w}}, {{"k", "v"}});
  auto [arrays, meta] = io::load_safetensors(path);
  EXPECT_EQ(meta.at("k"), "v");
  std::filesystem::remove(path);  // the mapping keeps the bytes
  expect_equal(arrays.at("w"), w);
}

TEST(IO, NpzAndGgufRoundTrip) {
  array a = arange(0, 5, 1, int32), b = ones({2, 2}, float16);
  io::save_npz(temp_path("a.npz"), {{"a", a}, {"b", b}}, /*compress=*/true);
  auto npz = io::load_npz(temp_path("a.npz"));
  expect_equal(npz.at("a"), a);
  expect_equal(npz.at("b"), b);
  io::save_gguf(temp_path("a.gguf"), {{"b", b}}, {{"name", std::string("x")}});
  auto [arrays, meta] = io::load_gguf(temp_path("a.gguf"));
  expect_equal(arrays.at("b"), b);
  EXPECT_EQ(std::get<std::string>(meta.at("name")), "x");
}

TEST(IO, MalformedFilesNameTheFile) {
  auto path = temp_path("bad.safetensors");
  FILE* f = std::fopen(path.c_str(), "wb");
  std::fputs("\x05\x00\x00\x00\x00\x00\x00\x00{oops", f);
  std::fclose(f);
  try {
    io::load_safetensors(path);
    FAIL() << "a malformed file loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
}
