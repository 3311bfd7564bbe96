#include "lmx/primitives/fft.h"

#include "lmx/ops/fft.h"

namespace lmx {

// The unnormalised DFT matrix F is symmetric, so in the rules' bilinear
// convention (no conjugation, autodiff.h) its vjp is F g: the transform in
// the same direction. (Public gradients conjugate around it, which makes
// them conj(F) applied to the conjugated cotangent, as MLX.)
std::vector<array> FFT::vjp(const std::vector<array>&, const std::vector<array>& cotangents, const std::vector<int>&,
                            const std::vector<array>&) {
  const array& g = cotangents[0];
  return {array(g.shape(), complex64, std::make_shared<FFT>(stream(), axis_, inverse_), {astype(g, complex64)})};
}

}  // namespace lmx
