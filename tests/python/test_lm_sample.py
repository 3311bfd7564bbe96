"""Samplers and logits processors of lmx.lm.sample_utils (mlx_lm.sample_utils under the MLX
backend), against NumPy statements of each rule on fixed log-probabilities."""

import numpy as np
import pytest
from conftest import BACKEND, mx
from lm_helpers import lm_module

sample_utils = lm_module("sample_utils")


def log_softmax_np(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


@pytest.fixture
def logprobs(rng):
    # distinct values so that every ranking is unambiguous
    x = rng.permutation(np.linspace(-4, 4, 2 * 40)).reshape(2, 40).astype(np.float32)
    return log_softmax_np(x).astype(np.float32)


def kept(filtered):
    return np.isfinite(np.array(filtered))


@pytest.mark.parametrize("k", [1, 3, 39])
def test_top_k(logprobs, k):
    out = np.array(sample_utils.apply_top_k(mx.array(logprobs), k))
    for row, lp in zip(out, logprobs):
        expected = np.zeros(lp.shape, bool)
        expected[np.argsort(-lp)[:k]] = True
        np.testing.assert_array_equal(np.isfinite(row), expected)
        np.testing.assert_array_equal(row[expected], lp[expected])


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 0.99])
def test_top_p(logprobs, p):
    out = np.array(sample_utils.apply_top_p(mx.array(logprobs), p))
    for row, lp in zip(out, logprobs):
        probs = np.exp(lp.astype(np.float64))
        order = np.argsort(-probs)
        # smallest set of most likely tokens whose mass reaches p
        n = int(np.searchsorted(np.cumsum(probs[order]), p - 1e-6)) + 1
        expected = np.zeros(lp.shape, bool)
        expected[order[:n]] = True
        np.testing.assert_array_equal(np.isfinite(row), expected)


@pytest.mark.parametrize("min_p, keep", [(0.1, 1), (0.5, 1), (0.9, 3), (1.0, 1)])
def test_min_p(logprobs, min_p, keep):
    out = np.array(sample_utils.apply_min_p(mx.array(logprobs), min_p, keep))
    for row, lp in zip(out, logprobs):
        probs = np.exp(lp.astype(np.float64))
        expected = probs >= min_p * probs.max() * (1 - 1e-6)
        expected[np.argsort(-lp)[:keep]] = True
        np.testing.assert_array_equal(np.isfinite(row), expected)


def test_xtc_always_on(logprobs):
    # through the sampler: mlx_lm's apply_xtc is compiled and meant to be called from it
    lp = logprobs[:1]
    threshold = 0.03
    probs = np.exp(lp.astype(np.float64)).ravel()
    above = probs > threshold
    dropped = above & (probs > probs[above].min())
    assert dropped.sum() >= 2
    special = int(np.argmax(probs))
    mx.random.seed(3)
    plain = sample_utils.make_sampler(temp=1.0, xtc_probability=1.0, xtc_threshold=threshold)
    keep_special = sample_utils.make_sampler(
        temp=1.0, xtc_probability=1.0, xtc_threshold=threshold, xtc_special_tokens=[special]
    )
    seen_special = False
    for _ in range(300):
        assert not dropped[int(np.array(plain(mx.array(lp)))[0])]
        token = int(np.array(keep_special(mx.array(lp)))[0])
        assert token == special or not dropped[token]
        seen_special |= token == special
    assert seen_special


def test_temp_zero_is_argmax(logprobs):
    sampler = sample_utils.make_sampler(temp=0.0, top_k=3, top_p=0.5)
    np.testing.assert_array_equal(np.array(sampler(mx.array(logprobs))), logprobs.argmax(-1))


def test_sampled_tokens_respect_filters(logprobs):
    mx.random.seed(0)
    sampler = sample_utils.make_sampler(temp=1.0, top_k=5, top_p=0.95, min_p=0.02)
    allowed = kept(sample_utils.apply_top_k(mx.array(logprobs), 5))
    seen = set()
    for _ in range(200):
        tokens = np.array(sampler(mx.array(logprobs)))
        assert tokens.shape == (2,)
        for row, t in enumerate(tokens):
            assert allowed[row, t]
            seen.add((row, int(t)))
    assert len(seen) > 2  # really sampling, not always the argmax


def test_sampling_frequencies_follow_temperature():
    mx.random.seed(1)
    logits = np.log(np.array([[0.6, 0.3, 0.1]], np.float32))
    temp = 0.5
    sampler = sample_utils.make_sampler(temp=temp)
    counts = np.bincount([int(np.array(sampler(mx.array(logits)))[0]) for _ in range(2000)], minlength=3)
    expected = np.exp(logits[0] / temp) / np.exp(logits[0] / temp).sum()
    np.testing.assert_allclose(counts / 2000, expected, atol=0.04)


def test_logit_bias_and_penalties():
    logits = np.array([[-2.0, 1.0, 3.0, 0.5, 2.0]], np.float32)
    tokens = mx.array([0, 2, 2, 4])

    def run(**kwargs):
        out = mx.array(logits)
        for processor in sample_utils.make_logits_processors(**kwargs):
            out = processor(tokens, out)
        return np.array(out)

    assert sample_utils.make_logits_processors() == []
    expected = logits.copy()
    expected[0, [1, 3]] += [0.5, -1.0]
    np.testing.assert_allclose(run(logit_bias={1: 0.5, 3: -1.0}), expected)

    expected = logits.copy()
    for t in (0, 2, 4):
        expected[0, t] = expected[0, t] * 1.5 if expected[0, t] < 0 else expected[0, t] / 1.5
    np.testing.assert_allclose(run(repetition_penalty=1.5), expected, rtol=1e-6)
    # only the last 2 tokens count
    expected = logits.copy()
    expected[0, [2, 4]] /= 1.5
    np.testing.assert_allclose(run(repetition_penalty=1.5, repetition_context_size=2), expected, rtol=1e-6)


@pytest.mark.skipif(
    BACKEND != "mlx" and not hasattr(sample_utils, "make_presence_penalty"), reason="presence penalty"
)
def test_presence_and_frequency_penalties():
    logits = np.array([[-2.0, 1.0, 3.0, 0.5, 2.0]], np.float32)
    tokens = mx.array([0, 2, 2, 4])
    out = np.array(sample_utils.make_presence_penalty(0.5, 20)(tokens, mx.array(logits)))
    np.testing.assert_allclose(out, logits - 0.5 * np.array([[1, 0, 1, 0, 1]]))
    out = np.array(sample_utils.make_frequency_penalty(0.5, 20)(tokens, mx.array(logits)))
    np.testing.assert_allclose(out, logits - 0.5 * np.array([[1, 0, 2, 0, 1]]))


def test_bad_arguments(logprobs):
    with pytest.raises(ValueError):
        sample_utils.apply_min_p(mx.array(logprobs), 1.5)
    with pytest.raises(ValueError):
        sample_utils.apply_xtc(mx.array(logprobs), 0.5, 0.9, [])
    with pytest.raises(ValueError):
        sample_utils.make_repetition_penalty(-1.0)


@pytest.mark.skipif(BACKEND == "mlx", reason="compares lmx with mlx_lm")
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(temp=0.7),
        dict(temp=1.0, top_k=5),
        dict(temp=1.0, top_p=0.8),
        dict(temp=1.0, min_p=0.1, min_tokens_to_keep=3),
        dict(temp=0.8, min_p=0.05, top_k=10, top_p=0.9, xtc_probability=0.7, xtc_threshold=0.05),
    ],
)
def test_same_draws_as_mlx_lm(logprobs, kwargs):
    mlx_core = pytest.importorskip("mlx.core")
    reference = pytest.importorskip("mlx_lm.sample_utils")
    # lmx's random numbers are MLX's bit for bit, so equal seeds must give equal tokens
    mx.random.seed(7)
    mlx_core.random.seed(7)
    ours, theirs = sample_utils.make_sampler(**kwargs), reference.make_sampler(**kwargs)
    for _ in range(20):
        a = np.array(ours(mx.array(logprobs)))
        b = np.array(theirs(mlx_core.array(logprobs)))
        np.testing.assert_array_equal(a, b)
