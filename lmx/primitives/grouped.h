// The differentiation rule shared by the nodes compile makes from sibling
// products (MatmulGroup, QuantizedMatmulGroup): input 0 is read by every
// member, member i reads inputs 1 + per * i .. per * (i + 1) besides, and
// output i is member i's product.
#pragma once

#include <functional>
#include <vector>

#include "lmx/array.h"

namespace lmx {

// One member's own vjp: its operands (the shared input first), its output's
// cotangent, and the argnums asked for among those operands.
using MemberVjp =
    std::function<std::vector<array>(const std::vector<array>&, const array&, const std::vector<int>&)>;

// Each member's rule, run once for all of its arguments asked for; the
// shared input's cotangent is the sum over the members.
std::vector<array> grouped_vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, int per, const MemberVjp& member_vjp);

}  // namespace lmx
