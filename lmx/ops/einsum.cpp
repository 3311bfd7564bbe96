// einsum: operands reduced to their own indices (diagonals taken, private
// indices summed), then contracted pairwise, left to right, through matmul.
#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "lmx/ops/ops.h"

namespace lmx {

namespace {

struct Term {
  array x;
  std::string idx;  // one letter per axis
};

std::string strip_spaces(const std::string& s) {
  std::string out;
  for (char c : s)
    if (c != ' ') out += c;
  return out;
}

// Parses "ab,bc->ac" (the output is optional) into per-operand index
// strings; "..." becomes fresh letters (shared across operands, aligned to
// the right like broadcasting).
struct Parsed {
  std::vector<std::string> inputs;
  std::string output;
};

Parsed parse(const std::string& subscripts_in, const std::vector<array>& operands) {
  std::string sub = strip_spaces(subscripts_in);
  Parsed p;
  std::string lhs = sub, rhs;
  bool explicit_out = false;
  if (auto arrow = sub.find("->"); arrow != std::string::npos) {
    lhs = sub.substr(0, arrow);
    rhs = sub.substr(arrow + 2);
    explicit_out = true;
  }
  std::vector<std::string> terms;
  size_t start = 0;
  while (true) {
    size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != operands.size())
    throw std::invalid_argument("[einsum] The subscripts name " + std::to_string(terms.size()) +
                                " operands but " + std::to_string(operands.size()) + " were given.");
  // Letters for the ellipsis dims: ones not used anywhere in the subscripts.
  std::string spare;
  for (char c = 'A'; c <= 'Z'; ++c)
    if (sub.find(c) == std::string::npos) spare += c;
  for (char c = 'a'; c <= 'z'; ++c)
    if (sub.find(c) == std::string::npos) spare += c;
  int ell_rank = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    auto& t = terms[i];
    auto dots = t.find("...");
    int named = static_cast<int>(t.size()) - (dots == std::string::npos ? 0 : 3);
    for (char c : t)
      if (c != '.' && !std::isalpha(static_cast<unsigned char>(c)))
        throw std::invalid_argument(std::string("[einsum] Invalid subscript character '") + c + "'.");
    if (dots == std::string::npos) {
      if (named != operands[i].ndim())
        throw std::invalid_argument("[einsum] Operand " + std::to_string(i) + " has " +
                                    std::to_string(operands[i].ndim()) + " dimensions but its subscripts name " +
                                    std::to_string(named) + ".");
    } else {
      int r = operands[i].ndim() - named;
      if (r < 0)
        throw std::invalid_argument("[einsum] Operand " + std::to_string(i) + " has fewer dimensions than subscripts.");
      ell_rank = std::max(ell_rank, r);
    }
  }
  std::string ell = spare.substr(0, ell_rank);
  for (size_t i = 0; i < terms.size(); ++i) {
    auto& t = terms[i];
    auto dots = t.find("...");
    if (dots != std::string::npos) {
      int r = operands[i].ndim() - (static_cast<int>(t.size()) - 3);
      t = t.substr(0, dots) + ell.substr(ell_rank - r) + t.substr(dots + 3);
    }
    p.inputs.push_back(t);
  }
  if (explicit_out) {
    auto dots = rhs.find("...");
    if (dots != std::string::npos) rhs = rhs.substr(0, dots) + ell + rhs.substr(dots + 3);
    std::set<char> seen;
    for (char c : rhs) {
      if (!seen.insert(c).second) throw std::invalid_argument(std::string("[einsum] Output index '") + c + "' repeats.");
      bool found = false;
      for (auto& t : p.inputs) found |= t.find(c) != std::string::npos;
      if (!found) throw std::invalid_argument(std::string("[einsum] Output index '") + c + "' is in no input.");
    }
    p.output = rhs;
  } else {
    // Implicit output: the ellipsis dims, then indices used once, sorted.
    std::map<char, int> count;
    for (auto& t : p.inputs)
      for (char c : t) ++count[c];
    std::string once;
    for (auto [c, n] : count)
      if (n == 1 && ell.find(c) == std::string::npos) once += c;
    p.output = ell + once;
  }
  return p;
}

// Takes the diagonal of repeated indices and sums indices no one else needs.
Term reduce_private(Term t, const std::string& keep, S s) {
  // Repeated index within the operand: keep its diagonal.
  for (size_t i = 0; i < t.idx.size(); ++i) {
    size_t j = t.idx.find(t.idx[i], i + 1);
    while (j != std::string::npos) {
      if (t.x.shape(static_cast<int>(i)) != t.x.shape(static_cast<int>(j)))
        throw std::invalid_argument(std::string("[einsum] Index '") + t.idx[i] + "' has different sizes.");
      // diagonal() puts the merged axis last: move it back to position i.
      array d = diagonal(t.x, 0, static_cast<int>(i), static_cast<int>(j), s);
      std::string idx;
      for (size_t k = 0; k < t.idx.size(); ++k)
        if (k != i && k != j) idx += t.idx[k];
      idx += t.idx[i];
      t.x = moveaxis(d, d.ndim() - 1, static_cast<int>(i), s);
      t.idx = idx.substr(0, i) + idx.back() + idx.substr(i, idx.size() - 1 - i);
      j = t.idx.find(t.idx[i], i + 1);
    }
  }
  std::vector<int> axes;
  std::string rest;
  for (size_t i = 0; i < t.idx.size(); ++i) {
    if (keep.find(t.idx[i]) == std::string::npos) axes.push_back(static_cast<int>(i));
    else rest += t.idx[i];
  }
  if (!axes.empty()) t.x = sum(t.x, axes, false, s);
  t.idx = rest;
  return t;
}

// Contracts two terms over the indices in both that `keep` does not need.
Term contract(const Term& a, const Term& b, const std::string& keep, S s) {
  std::string batch, con, fa, fb;
  for (char c : a.idx) {
    bool in_b = b.idx.find(c) != std::string::npos;
    if (in_b && keep.find(c) != std::string::npos) batch += c;
    else if (in_b) con += c;
    else fa += c;
  }
  for (char c : b.idx)
    if (a.idx.find(c) == std::string::npos) fb += c;
  auto perm_of = [](const Term& t, const std::string& order) {
    std::vector<int> p;
    for (char c : order) p.push_back(static_cast<int>(t.idx.find(c)));
    return p;
  };
  for (char c : batch + con)
    if (a.x.shape(static_cast<int>(a.idx.find(c))) != b.x.shape(static_cast<int>(b.idx.find(c))) &&
        a.x.shape(static_cast<int>(a.idx.find(c))) != 1 && b.x.shape(static_cast<int>(b.idx.find(c))) != 1)
      throw std::invalid_argument(std::string("[einsum] Index '") + c + "' has different sizes in two operands.");
  // Broadcast size-1 batch/contracted dims between the two.
  array ax = transpose(a.x, perm_of(a, batch + fa + con), s);
  array bx = transpose(b.x, perm_of(b, batch + con + fb), s);
  Shape bshape;
  for (size_t i = 0; i < batch.size(); ++i) bshape.push_back(std::max(ax.shape(static_cast<int>(i)), bx.shape(static_cast<int>(i))));
  Shape cshape;
  for (size_t i = 0; i < con.size(); ++i)
    cshape.push_back(std::max(ax.shape(static_cast<int>(batch.size() + fa.size() + i)),
                              bx.shape(static_cast<int>(batch.size() + i))));
  Shape fa_shape, fb_shape;
  ShapeElem m = 1, n = 1, k = 1, nb = 1;
  for (size_t i = 0; i < fa.size(); ++i) fa_shape.push_back(ax.shape(static_cast<int>(batch.size() + i))), m *= fa_shape.back();
  for (size_t i = 0; i < fb.size(); ++i) fb_shape.push_back(bx.shape(static_cast<int>(batch.size() + con.size() + i))), n *= fb_shape.back();
  for (auto d : cshape) k *= d;
  for (auto d : bshape) nb *= d;
  Shape af = bshape, bf = bshape;
  af.insert(af.end(), fa_shape.begin(), fa_shape.end());
  af.insert(af.end(), cshape.begin(), cshape.end());
  bf.insert(bf.end(), cshape.begin(), cshape.end());
  bf.insert(bf.end(), fb_shape.begin(), fb_shape.end());
  ax = reshape(broadcast_to(ax, af, s), {nb, m, k}, s);
  bx = reshape(broadcast_to(bx, bf, s), {nb, k, n}, s);
  Shape out = bshape;
  out.insert(out.end(), fa_shape.begin(), fa_shape.end());
  out.insert(out.end(), fb_shape.begin(), fb_shape.end());
  return {reshape(matmul(ax, bx, s), out, s), batch + fa + fb};
}

}  // namespace

array einsum(const std::string& subscripts, const std::vector<array>& operands, S s) {
  if (operands.empty()) throw std::invalid_argument("[einsum] At least one operand is required.");
  Parsed p = parse(subscripts, operands);
  // Sizes must agree per index (size 1 broadcasts).
  std::map<char, ShapeElem> size;
  for (size_t i = 0; i < operands.size(); ++i)
    for (size_t d = 0; d < p.inputs[i].size(); ++d) {
      char c = p.inputs[i][d];
      ShapeElem n = operands[i].shape(static_cast<int>(d));
      auto it = size.find(c);
      if (it == size.end() || it->second == 1) size[c] = n;
      else if (n != 1 && n != it->second)
        throw std::invalid_argument(std::string("[einsum] Index '") + c + "' has sizes " + std::to_string(it->second) +
                                    " and " + std::to_string(n) + ".");
    }
  std::vector<Term> terms;
  for (size_t i = 0; i < operands.size(); ++i) terms.push_back({operands[i], p.inputs[i]});
  auto needed_after = [&](size_t from) {
    std::string keep = p.output;
    for (size_t j = from; j < terms.size(); ++j) keep += terms[j].idx;
    return keep;
  };
  // Each operand first drops what only it uses.
  for (size_t i = 0; i < terms.size(); ++i) {
    std::string keep = p.output;
    for (size_t j = 0; j < terms.size(); ++j)
      if (j != i) keep += terms[j].idx;
    terms[i] = reduce_private(terms[i], keep, s);
  }
  Term acc = terms[0];
  for (size_t i = 1; i < terms.size(); ++i) acc = contract(acc, terms[i], needed_after(i + 1), s);
  acc = reduce_private(acc, p.output, s);
  // Order (and broadcast) as the output asks.
  std::vector<int> perm;
  Shape out_shape;
  for (char c : p.output) {
    perm.push_back(static_cast<int>(acc.idx.find(c)));
    out_shape.push_back(size[c]);
  }
  array out = transpose(acc.x, perm, s);
  return out.shape() == out_shape ? out : broadcast_to(out, out_shape, s);
}

std::pair<std::vector<std::vector<int>>, std::string> einsum_path(const std::string& subscripts,
                                                                  const std::vector<array>& operands) {
  Parsed p = parse(subscripts, operands);
  // lmx contracts left to right: each step joins the first two operands.
  std::vector<std::vector<int>> path;
  for (size_t i = 1; i < operands.size(); ++i) path.push_back({0, 1});
  std::string info = "  Complete contraction:  " + strip_spaces(subscripts) + "\n  Contraction order: left to right (" +
                     std::to_string(path.size()) + " pairwise steps)\n";
  return {path, info};
}

}  // namespace lmx
