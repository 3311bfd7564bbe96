#include "lmx/primitives/fft.h"

#include "lmx/ops/fft.h"

namespace lmx {

// The unnormalised DFT matrix F is symmetric, so its vjp is conj(F) g: the
// transform in the other direction.
std::vector<array> FFT::vjp(const std::vector<array>&, const std::vector<array>& cotangents, const std::vector<int>&,
                            const std::vector<array>&) {
  const array& g = cotangents[0];
  return {array(g.shape(), complex64, std::make_shared<FFT>(stream(), axis_, !inverse_), {astype(g, complex64)})};
}

}  // namespace lmx
