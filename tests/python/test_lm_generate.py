"""lmx.lm.generate (mlx_lm.generate under LMX_TEST_BACKEND=mlx): generate_step, stream_generate,
generate, speculative decoding and the command lines, on a fake model whose next token is a
known function of the context, and on a tiny random llama folder checked against full
forward passes (and mlx_lm when installed)."""

import importlib
import re

import numpy as np
import pytest
from conftest import BACKEND, backend_module, mx
from lm_helpers import byte_level_tokenizer, lm_module, write_llama_folder, write_tokenizer_folder

generate_mod = lm_module("generate")
cache_mod = lm_module("models.cache")
tokenizer_utils = lm_module("tokenizer_utils")
nn = backend_module("nn")

V = 300  # vocabulary of the fake model; the byte-level test tokenizer has this size


class SumModel(nn.Module):
    """Next token = (shift + sum of every token in the context) mod V, with a smooth peak there.

    It reads past tokens back from its caches, so a wrong cache update shows up as a wrong token.
    """

    def __init__(self, n_layers=2, shift=0, vocab=V):
        super().__init__()
        self.layers = [nn.Identity() for _ in range(n_layers)]
        self.shift = shift
        self.vocab = vocab

    def __call__(self, x, cache=None):
        t = x.astype(mx.float32)[:, None, :, None]
        keys = t
        if cache is not None:
            for c in cache:
                keys, _ = c.update_and_fetch(t, t)
        sums = mx.cumsum(keys[:, 0, :, 0], axis=-1)[:, -x.shape[1] :]
        target = (sums + self.shift) % self.vocab
        return -((mx.arange(self.vocab)[None, None, :] - target[..., None]) ** 2) / 4.0


def sum_chain(prompt, n, shift=0, vocab=V):
    """The greedy continuation of SumModel, in plain Python."""
    context, out = list(prompt), []
    for _ in range(n):
        out.append((shift + sum(context)) % vocab)
        context.append(out[-1])
    return out


def argmax_chain(model, prompt, n):
    """Greedy continuation by a full forward pass over the whole context at every step."""
    context, out = list(prompt), []
    for _ in range(n):
        logits = model(mx.array(context)[None])
        out.append(int(np.array(logits[0, -1]).argmax()))
        context.append(out[-1])
    return out


PROMPT = [3, 7, 11, 2, 9, 40, 1]


@pytest.mark.parametrize("prefill_step_size", [1, 2, 3, 2048])
def test_generate_step_greedy_chain(prefill_step_size):
    calls = []
    tokens = [
        t
        for t, _ in generate_mod.generate_step(
            mx.array(PROMPT),
            SumModel(),
            max_tokens=9,
            prefill_step_size=prefill_step_size,
            prompt_progress_callback=lambda done, total: calls.append((done, total)),
        )
    ]
    assert tokens == sum_chain(PROMPT, 9)
    n = len(PROMPT)
    assert calls[0] == (0, n) and calls[-1] == (n, n)
    done = [d for d, _ in calls]
    assert done == sorted(done) and all(t == n for _, t in calls)


def test_generate_step_logprobs():
    for token, logprobs in generate_mod.generate_step(mx.array(PROMPT), SumModel(), max_tokens=3):
        lp = np.array(logprobs)
        assert lp.shape == (V,)
        np.testing.assert_allclose(np.exp(lp).sum(), 1.0, rtol=1e-5)
        assert lp.argmax() == token


def test_prompt_cache_continues_the_conversation():
    model = SumModel()
    cache = cache_mod.make_prompt_cache(model)
    first = [
        t for t, _ in generate_mod.generate_step(mx.array(PROMPT), model, max_tokens=4, prompt_cache=cache)
    ]
    # decoding runs one step ahead, so the last yielded token is already in the cache
    assert cache[0].offset == len(PROMPT) + 4
    assert first == sum_chain(PROMPT, 4)
    second = [
        t for t, _ in generate_mod.generate_step(mx.array([5, 8]), model, max_tokens=4, prompt_cache=cache)
    ]
    assert second == sum_chain(PROMPT + first + [5, 8], 4)


def test_max_kv_size_uses_rotating_caches():
    model = SumModel(vocab=1000)
    cache = cache_mod.make_prompt_cache(model, max_kv_size=6)
    tokens = [
        t for t, _ in generate_mod.generate_step(mx.array([5, 6]), model, max_tokens=10, prompt_cache=cache)
    ]
    # with at most 6 tokens kept (4 of them the prompt's start) the sums differ from the full chain
    assert all(isinstance(c, cache_mod.RotatingKVCache) for c in cache)
    assert tokens != sum_chain([5, 6], 10, vocab=1000)
    assert tokens[:4] == sum_chain([5, 6], 10, vocab=1000)[:4]


def test_logits_processors_see_prompt_and_generated_tokens():
    seen = []

    def record(tokens, logits):
        seen.append(np.array(tokens).tolist())
        return logits

    tokens = [
        t
        for t, _ in generate_mod.generate_step(
            mx.array(PROMPT), SumModel(), max_tokens=3, logits_processors=[record], prefill_step_size=2
        )
    ]
    assert seen[0] == PROMPT
    assert seen[1] == PROMPT + tokens[:1]
    assert seen[2] == PROMPT + tokens[:2]


def test_logits_processor_changes_the_choice():
    def ban_expected(tokens, logits):
        # forbid the token the model wants: it must fall back to a neighbour
        target = (int(np.array(tokens).sum())) % V
        logits[:, target] = -1e9
        return logits

    tokens = [
        t
        for t, _ in generate_mod.generate_step(
            mx.array(PROMPT), SumModel(), max_tokens=3, logits_processors=[ban_expected]
        )
    ]
    context = list(PROMPT)
    for t in tokens:
        assert abs(t - sum(context) % V) == 1
        context.append(t)


def test_maybe_quantize_kv_cache():
    caches = [cache_mod.KVCache(), cache_mod.KVCache()]
    for c in caches:
        c.update_and_fetch(mx.zeros((1, 2, 10, 64)), mx.zeros((1, 2, 10, 64)))
    generate_mod.maybe_quantize_kv_cache(caches, quantized_kv_start=20, kv_group_size=64, kv_bits=4)
    assert all(type(c) is cache_mod.KVCache for c in caches)
    generate_mod.maybe_quantize_kv_cache(caches, quantized_kv_start=5, kv_group_size=64, kv_bits=None)
    assert all(type(c) is cache_mod.KVCache for c in caches)
    generate_mod.maybe_quantize_kv_cache(caches, quantized_kv_start=5, kv_group_size=64, kv_bits=4)
    assert all(type(c) is cache_mod.QuantizedKVCache and c.bits == 4 and c.offset == 10 for c in caches)


@pytest.fixture
def tokenizer(tmp_path):
    tok, config = byte_level_tokenizer(vocab_size=V)
    return tokenizer_utils.load(write_tokenizer_folder(tmp_path / "tok", tok, config))


def test_stream_generate_responses(tokenizer):
    expected = sum_chain(PROMPT, 6)
    tokenizer.eos_token_ids = {V - 1} if V - 1 not in expected else {V - 2}
    responses = list(generate_mod.stream_generate(SumModel(), tokenizer, PROMPT, max_tokens=6))
    assert [r.token for r in responses] == expected
    assert "".join(r.text for r in responses) == tokenizer.decode(expected)
    assert [r.generation_tokens for r in responses] == list(range(1, 7))
    assert [r.finish_reason for r in responses] == [None] * 5 + ["length"]
    assert all(r.prompt_tokens == len(PROMPT) and r.from_draft is False for r in responses)
    assert all(r.prompt_tps > 0 and r.generation_tps > 0 and r.peak_memory >= 0 for r in responses)
    assert responses[-1].logprobs.shape == (V,)


def test_stream_generate_stops_at_eos(tokenizer):
    expected = sum_chain(PROMPT, 10)
    tokenizer.eos_token_ids = {expected[3]}
    assert expected[3] not in expected[:3]
    responses = list(generate_mod.stream_generate(SumModel(), tokenizer, PROMPT, max_tokens=10))
    assert responses[-1].finish_reason == "stop" and responses[-1].token == expected[3]
    assert responses[-1].generation_tokens == 4
    assert "".join(r.text for r in responses) == tokenizer.decode(expected[:3])


def test_stream_generate_encodes_text_prompts(tokenizer):
    text = "hello world"
    ids = tokenizer.encode(text)
    responses = list(generate_mod.stream_generate(SumModel(), tokenizer, text, max_tokens=3))
    assert [r.token for r in responses] == sum_chain(ids, 3)
    assert responses[0].prompt_tokens == len(ids)


def test_generate_verbose_summary(tokenizer, capsys):
    text = generate_mod.generate(SumModel(), tokenizer, PROMPT, max_tokens=5, verbose=True)
    out = capsys.readouterr().out
    assert text == tokenizer.decode(sum_chain(PROMPT, 5))
    assert text in out
    assert re.search(r"^Prompt: 7 tokens, [0-9.]+ tokens-per-sec$", out, re.MULTILINE)
    assert re.search(r"^Generation: 5 tokens, [0-9.]+ tokens-per-sec$", out, re.MULTILINE)
    assert re.search(r"^Peak memory: [0-9.]+ GB$", out, re.MULTILINE)
    assert generate_mod.generate(SumModel(), tokenizer, PROMPT, max_tokens=5) == text
    assert capsys.readouterr().out == ""


def test_sampler_is_used(tokenizer):
    constant = lambda logprobs: mx.array([17] * logprobs.shape[0])
    responses = list(
        generate_mod.stream_generate(SumModel(), tokenizer, PROMPT, max_tokens=4, sampler=constant)
    )
    assert [r.token for r in responses] == [17] * 4


@pytest.mark.parametrize("num_draft_tokens", [1, 2, 4])
@pytest.mark.parametrize("draft_shift", [0, 1])
def test_speculative_decoding_matches_greedy(tokenizer, num_draft_tokens, draft_shift):
    # a draft that always agrees, and one that always disagrees: the output is the same
    model, draft = SumModel(), SumModel(n_layers=1, shift=draft_shift)
    responses = list(
        generate_mod.stream_generate(
            model, tokenizer, PROMPT, max_tokens=9, draft_model=draft, num_draft_tokens=num_draft_tokens
        )
    )
    assert [r.token for r in responses] == sum_chain(PROMPT, 9)
    from_draft = [r.from_draft for r in responses]
    if draft_shift:
        assert not any(from_draft)
    else:
        assert sum(from_draft) >= 9 - 9 // (num_draft_tokens + 1) - 1


@pytest.fixture
def llama_folder(tmp_path, rng):
    tok, config = byte_level_tokenizer(vocab_size=V)
    # head_dim 32 so that quantised caches (groups of 32) apply
    return write_llama_folder(
        tmp_path / "llama",
        rng,
        vocab_size=V,
        tokenizer=tok,
        tokenizer_config=config,
        hidden_size=64,
        num_attention_heads=2,
        num_key_value_heads=1,
    )


@pytest.mark.parametrize("prefill_step_size", [3, 2048])
def test_tiny_llama_greedy_equals_full_forward_chain(llama_folder, prefill_step_size):
    model, tokenizer = lm_module("utils").load(str(llama_folder))
    prompt = tokenizer.encode("hello world, the quick brown fox")
    tokens = [
        t
        for t, _ in generate_mod.generate_step(
            mx.array(prompt), model, max_tokens=12, prefill_step_size=prefill_step_size
        )
    ]
    assert tokens == argmax_chain(model, prompt, 12)


def test_tiny_llama_quantized_kv_cache_stays_close(llama_folder):
    model, tokenizer = lm_module("utils").load(str(llama_folder))
    prompt = mx.array(tokenizer.encode("hello world, the quick brown fox"))
    plain = [lp for _, lp in generate_mod.generate_step(prompt, model, max_tokens=6)]
    quantized = [
        lp
        for _, lp in generate_mod.generate_step(
            prompt, model, max_tokens=6, kv_bits=8, kv_group_size=32, quantized_kv_start=0
        )
    ]
    # 8-bit keys/values barely move the first distribution (random weights make the logits
    # large, so compare probabilities; later steps may follow different tokens)
    np.testing.assert_allclose(np.exp(np.array(quantized[0])), np.exp(np.array(plain[0])), atol=0.02)


@pytest.mark.skipif(BACKEND == "mlx", reason="compares lmx with mlx_lm")
@pytest.mark.parametrize("setting", ["plain", "rotating", "rotating_keep", "chunked_prefill", "quantized_kv"])
def test_tiny_llama_same_tokens_as_mlx_lm(llama_folder, setting):
    reference = pytest.importorskip("mlx_lm")
    ref_cache = pytest.importorskip("mlx_lm.models.cache")
    model, tokenizer = lm_module("utils").load(str(llama_folder))
    ref_model, ref_tokenizer = reference.load(str(llama_folder))
    ref_generate = importlib.import_module("mlx_lm.generate")

    def options(cache):
        # explicit rotating caches: mlx_lm's llama has its own make_cache, which ignores max_kv_size
        layers = len(model.layers)
        return {
            "plain": {},
            "rotating": {"prompt_cache": [cache.RotatingKVCache(max_size=8) for _ in range(layers)]},
            "rotating_keep": {
                "prompt_cache": [cache.RotatingKVCache(max_size=8, keep=4) for _ in range(layers)]
            },
            "chunked_prefill": {"prefill_step_size": 3},
            "quantized_kv": {"kv_bits": 8, "kv_group_size": 32, "quantized_kv_start": 4},
        }[setting]

    for prompt in ["hello world, the quick brown fox", "über café"]:
        ours = [
            r.token
            for r in generate_mod.stream_generate(
                model, tokenizer, prompt, max_tokens=16, **options(cache_mod)
            )
        ]
        theirs = [
            r.token
            for r in ref_generate.stream_generate(
                ref_model, ref_tokenizer, prompt, max_tokens=16, **options(ref_cache)
            )
        ]
        assert ours == theirs


@pytest.mark.skipif(BACKEND == "mlx", reason="lmx's command lines")
def test_generate_cli(llama_folder, capsys):
    model, tokenizer = lm_module("utils").load(str(llama_folder))
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "hello"}], add_generation_prompt=True)
    expected = generate_mod.generate(model, tokenizer, prompt, max_tokens=5)
    generate_mod.main(
        ["--model", str(llama_folder), "--prompt", "hello", "--max-tokens", "5", "--verbose", "False"]
    )
    assert capsys.readouterr().out == expected + "\n"
    generate_mod.main(
        ["--model", str(llama_folder), "-p", "hello", "-m", "5", "--temp", "0.7", "--seed", "1"]
    )
    out = capsys.readouterr().out
    assert re.search(r"^Generation: \d+ tokens", out, re.MULTILINE) and "Peak memory:" in out


@pytest.mark.skipif(BACKEND == "mlx", reason="lmx's command lines")
def test_chat_loop(llama_folder):
    chat = importlib.import_module("lmx.lm.chat")
    model, tokenizer = lm_module("utils").load(str(llama_folder))
    args = chat.setup_arg_parser().parse_args(["--max-tokens", "4"])
    inputs = iter(["hello", "world", "r", "hello", "q", "never read"])
    written = []
    chat.chat(
        model, tokenizer, args, read=lambda _: next(inputs), write=lambda *a, **k: written.append("".join(a))
    )
    replies = "".join(written).split(chat.HELP)[1]
    first = generate_mod.generate(
        model,
        tokenizer,
        tokenizer.apply_chat_template([{"role": "user", "content": "hello"}], add_generation_prompt=True),
        max_tokens=4,
    )
    # after "r" the same question gets the same answer as the first time
    assert replies.count(first) >= 2
    assert next(inputs) == "never read"


@pytest.mark.skipif(BACKEND == "mlx", reason="lmx's command lines")
def test_benchmark_trial(llama_folder, capsys, monkeypatch):
    benchmark = importlib.import_module("lmx.lm.benchmark")
    benchmark.main(["--model", str(llama_folder), "-p", "16", "-g", "8", "-n", "2"])
    out = capsys.readouterr().out
    trials = re.findall(
        r"Trial \d+:  prompt_tps=([0-9.]+), generation_tps=([0-9.]+), peak_memory=([0-9.]+)", out
    )
    assert len(trials) == 2 and all(float(a) > 0 and float(b) > 0 for a, b, _ in trials)
    assert "Averages:" in out


@pytest.mark.skipif(BACKEND == "mlx", reason="lmx's argument checks")
def test_bad_input(tokenizer):
    with pytest.raises(ValueError, match=r"\[generate_step\]"):
        next(generate_mod.generate_step(mx.array([], dtype=mx.int32), SumModel()))
    with pytest.raises(TypeError, match=r"\[generate_step\]"):
        next(generate_mod.generate_step("hello", SumModel()))
    with pytest.raises(ValueError, match=r"\[generate_step\]"):
        next(generate_mod.generate_step(mx.array(PROMPT), SumModel(), prefill_step_size=0))
    with pytest.raises(ValueError, match=r"\[generate_step\]"):
        next(generate_mod.generate_step(mx.array(PROMPT), SumModel(), prompt_cache=[cache_mod.KVCache()]))
    assert list(generate_mod.stream_generate(SumModel(), tokenizer, PROMPT, max_tokens=0)) == []


def test_batch_generate_matches_single_prompts(llama_folder):
    model, tokenizer = lm_module("utils").load(str(llama_folder))
    prompts = [tokenizer.encode(t) for t in ["hello world", "the quick brown fox jumps", "über"]]
    limits = [5, 8, 3]
    singles = [
        [r.token for r in generate_mod.stream_generate(model, tokenizer, p, max_tokens=8)] for p in prompts
    ]
    # an end-of-sequence token that the second prompt reaches after 4 tokens
    eos = singles[1][4]
    stops = [s.index(eos) if eos in s else len(s) for s in singles]
    tokenizer.eos_token_ids = {eos}
    response = generate_mod.batch_generate(
        model, tokenizer, prompts, max_tokens=limits, return_token_ids=True, return_logprobs=True
    )
    expected = [s[: min(limit, stop)] for s, limit, stop in zip(singles, limits, stops)]
    assert response.token_ids == expected
    assert response.texts == [tokenizer.decode(e) for e in expected]
    # an end-of-sequence token counts as generated
    stopped = sum(stop < limit for stop, limit in zip(stops, limits))
    assert stopped >= 1
    assert response.stats.generation_tokens == sum(len(e) for e in expected) + stopped
    assert all(len(lp) == len(e) and all(v <= 0 for v in lp) for lp, e in zip(response.logprobs, expected))
    assert response.stats.prompt_tps > 0 and response.stats.peak_memory >= 0


@pytest.mark.skipif(BACKEND == "mlx", reason="lmx's batched cache")
def test_batch_kv_cache_masks_padding():
    cache = cache_mod.BatchKVCache(left_padding=[2, 0])
    keys = np.arange(2 * 1 * 3 * 4, dtype=np.float32).reshape(2, 1, 3, 4)
    mask = np.array(cache.make_mask(3))
    fetched, _ = cache.update_and_fetch(mx.array(keys), mx.array(keys))
    np.testing.assert_array_equal(np.array(fetched), keys)
    assert np.array(cache.offset).tolist() == [1, 3] and cache.size() == 3
    causal = np.tril(np.ones((3, 3), bool))
    np.testing.assert_array_equal(mask[1, 0], causal)
    padded = causal.copy()
    padded[:, :2] = False
    np.testing.assert_array_equal(mask[0, 0], padded)
    step = np.array(cache.make_mask(1))
    np.testing.assert_array_equal(step[:, 0, 0], [[False, False, True, True], [True, True, True, True]])
    cache.filter([1])
    assert cache.keys.shape[0] == 1 and np.array(cache.offset).tolist() == [3]


@pytest.mark.skipif(BACKEND == "mlx", reason="lmx's command lines")
def test_cache_prompt_then_generate_cli(llama_folder, tmp_path, capsys):
    cache_prompt = importlib.import_module("lmx.lm.cache_prompt")
    cache_file = str(tmp_path / "prompt.safetensors")
    first, rest = "hello world,", " the quick brown fox"
    cache_prompt.main(["--model", str(llama_folder), "--prompt", first, "--prompt-cache-file", cache_file])
    capsys.readouterr()
    cache, metadata = cache_mod.load_prompt_cache(cache_file, return_metadata=True)
    assert metadata["model"] == str(llama_folder)

    model, tokenizer = lm_module("utils").load(str(llama_folder))
    whole = tokenizer.apply_chat_template(
        [{"role": "user", "content": first + rest}], add_generation_prompt=True
    )
    assert cache[0].offset < len(whole)
    expected = generate_mod.generate(model, tokenizer, whole, max_tokens=6)
    # the model comes from the cache's metadata; only the continuation is run through it
    generate_mod.main(["--prompt-cache-file", cache_file, "--prompt", rest, "-m", "6", "--verbose", "False"])
    assert capsys.readouterr().out == expected + "\n"


def test_tiny_llama_speculative_equals_greedy(llama_folder, tmp_path):
    tok, config = byte_level_tokenizer(vocab_size=V)
    draft_folder = write_llama_folder(
        tmp_path / "draft", np.random.default_rng(5), vocab_size=V, num_hidden_layers=1,
        hidden_size=64, num_attention_heads=2, num_key_value_heads=1,
    )  # fmt: skip
    utils = lm_module("utils")
    model, tokenizer = utils.load(str(llama_folder))
    draft = utils.load_model(draft_folder)[0]
    prompt = tokenizer.encode("hello world, the quick brown fox")
    plain = [r.token for r in generate_mod.stream_generate(model, tokenizer, prompt, max_tokens=12)]
    for k in (1, 3):
        speculative = list(
            generate_mod.stream_generate(
                model, tokenizer, prompt, max_tokens=12, draft_model=draft, num_draft_tokens=k
            )
        )
        assert [r.token for r in speculative] == plain
    # the model as its own draft: everything but the verifier's bonus tokens comes from the draft
    same = list(
        generate_mod.stream_generate(
            model, tokenizer, prompt, max_tokens=12, draft_model=model, num_draft_tokens=3
        )
    )
    assert [r.token for r in same] == plain
    assert sum(r.from_draft for r in same) == 9


@pytest.mark.skipif(BACKEND == "mlx", reason="compares lmx with mlx_lm")
def test_default_model_generates_as_mlx_lm(tmp_path):
    """SmolLM2 (the bundled default model), converted to an MLX folder: chat template, tokens,
    streamed text and counts equal mlx_lm's."""
    reference = pytest.importorskip("mlx_lm")
    gguf = importlib.import_module("lmx.lm.gguf")
    try:
        gguf_file = gguf.default_gguf_path()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    folder = str(tmp_path / "smol")
    importlib.import_module("lmx.lm.convert").convert(gguf_path=gguf_file, mlx_path=folder)
    model, tokenizer = lm_module("utils").load(folder)
    ref_model, ref_tokenizer = reference.load(folder)
    ref_generate = importlib.import_module("mlx_lm.generate")
    messages = [{"role": "user", "content": "What is the capital of France? One word 😀."}]
    chat = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert chat == ref_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert tokenizer.eos_token_ids == ref_tokenizer.eos_token_ids
    for prompt in [chat, "Once upon a time"]:
        ours = list(generate_mod.stream_generate(model, tokenizer, prompt, max_tokens=24))
        theirs = list(ref_generate.stream_generate(ref_model, ref_tokenizer, prompt, max_tokens=24))
        assert [r.token for r in ours] == [r.token for r in theirs]
        assert "".join(r.text for r in ours) == "".join(r.text for r in theirs)
        assert (ours[-1].finish_reason, ours[-1].generation_tokens, ours[-1].prompt_tokens) == (
            theirs[-1].finish_reason,
            theirs[-1].generation_tokens,
            theirs[-1].prompt_tokens,
        )
