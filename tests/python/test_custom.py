"""custom_function (vjp, jvp and vmap rules, each optional and independent)
and checkpoint (same gradients, less memory held for the backward pass)."""

import numpy as np

from conftest import mx, to_numpy


def test_custom_vjp_replaces_only_the_vjp():
    f = mx.custom_function(lambda x: x * 2)

    @f.vjp
    def f_vjp(primals, cotangent, output):
        assert isinstance(primals, mx.array) and isinstance(output, mx.array)  # one argument: bare
        return cotangent * 7

    x = mx.array(1.0)
    assert f(x).item() == 2.0
    assert mx.grad(f)(x).item() == 7.0
    assert mx.jvp(f, [x], [mx.array(1.0)])[1][0].item() == 2.0  # jvp: the function's own derivative


def test_custom_jvp_replaces_only_the_jvp():
    g = mx.custom_function(lambda x: x * 2)

    @g.jvp
    def g_jvp(primals, tangents):
        return tangents * 3

    x = mx.array(1.0)
    assert mx.jvp(g, [x], [mx.array(1.0)])[1][0].item() == 3.0
    assert mx.grad(g)(x).item() == 2.0


def test_custom_vjp_with_several_arguments():
    @mx.custom_function
    def f(x, y):
        return mx.sin(x) * y

    @f.vjp
    def f_vjp(primals, cotangent, output):
        x, y = primals
        return cotangent * mx.cos(x) * y, cotangent * mx.sin(x) * 10

    x, y = mx.array(0.5), mx.array(2.0)
    gx, gy = mx.grad(f, argnums=(0, 1))(x, y)
    assert abs(gx.item() - np.cos(0.5) * 2) < 1e-6 and abs(gy.item() - np.sin(0.5) * 10) < 1e-5


def test_custom_vmap():
    h = mx.custom_function(lambda x: x * 2)

    @h.vmap
    def h_vmap(inputs, axes):
        return inputs * 5, axes

    assert mx.vmap(h)(mx.ones((3,))).tolist() == [5.0, 5.0, 5.0]
    assert mx.grad(lambda v: mx.sum(h(v)))(mx.ones((2,))).tolist() == [2.0, 2.0]  # grad: the default


def _mlp(depth, width, rng):
    return [mx.array(rng.normal(scale=1 / np.sqrt(width), size=(width, width)).astype(np.float32))
            for _ in range(depth)]  # fmt: skip


def _layer(h, w):
    return mx.tanh(mx.tanh(h @ w) * 1.5 + 0.1)


def test_checkpoint_gives_the_same_gradients(rng):
    ws = _mlp(3, 16, rng)
    x = mx.array(rng.normal(size=(4, 16)).astype(np.float32))

    def loss(ws, layer):
        h = x
        for w in ws:
            h = layer(h, w)
        return mx.sum(h * h)

    plain = mx.grad(loss)(ws, _layer)
    ckpt = mx.grad(loss)(ws, mx.checkpoint(_layer))
    for a, b in zip(plain, ckpt):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-5, atol=1e-6)


def test_checkpoint_lowers_peak_memory(rng):
    ws = _mlp(12, 256, rng)
    x = mx.array(rng.normal(size=(512, 256)).astype(np.float32))
    mx.eval(x, ws)

    def peak(layer):
        def loss(ws):
            h = x
            for w in ws:
                h = layer(h, w)
            return mx.sum(h)

        mx.clear_cache()
        mx.reset_peak_memory()
        base = mx.get_active_memory()
        mx.eval(mx.grad(loss)(ws))
        return mx.get_peak_memory() - base

    plain, ckpt = peak(_layer), peak(mx.checkpoint(_layer))
    assert ckpt < 0.85 * plain, (plain, ckpt)


def test_value_of_checkpointed_loss_does_not_deadlock():
    # A stream worker once dropped the last reference to the Python function
    # behind checkpoint while the main thread held the GIL waiting for that
    # worker: a deadlock. Run in a child process so a regression fails fast.
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        f"""
        import importlib
        mx = importlib.import_module("{mx.__name__}")
        nn = importlib.import_module("{mx.__name__.replace('.core', '.nn')}")
        from importlib import import_module
        checkpoint = import_module("{mx.__name__.replace('.core', '.nn.utils')}").checkpoint

        model = nn.Linear(4, 4)
        model.update({{"weight": mx.ones((4, 4)), "bias": mx.zeros((4,))}})
        step = checkpoint(model)
        loss = lambda m, x: (step(x) ** 2).sum()
        for _ in range(5):
            v, g = nn.value_and_grad(model, loss)(model, mx.ones((2, 4)))
            print(repr(v).split("(")[1].split(",")[0], g["weight"].sum().item())
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # Every output is 4: the loss is 8 * 16, each weight's gradient 2 * 4 * 2.
    assert [float(t) for t in out.stdout.split()[:2]] == [128.0, 256.0]
