"""A first look at lmx: lazy arrays, broadcasting, reductions and devices."""

import lmx.core as mx

a = mx.arange(6).reshape(2, 3)
print((a * 2).sum(axis=1))  # array([6, 24], dtype=int32)

# Nothing is computed until a value is needed (or mx.eval is called).
x = mx.linspace(0, 1, 5)
y = mx.exp(-x) * mx.sin(3 * x) + 1
mx.eval(y)
print(y)

# Python scalars are weak: they adopt the array's dtype.
h = mx.ones((2, 2), dtype=mx.float16)
print((h + 1.5).dtype)  # float16

# Reductions, softmax and friends.
logits = mx.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
print(mx.softmax(logits, axis=-1))
print(mx.logsumexp(logits, axis=1), mx.argmax(logits, axis=1))

# Work can go to its own stream; results flow across streams.
s = mx.new_stream(mx.cpu)
with mx.stream(s):
    z = mx.square(a)
print(z + a, mx.default_device())

# Transforms compose: fit a line by gradient descent, then per-example grads.
key = mx.random.key(0)
xs = mx.random.normal((64, 1), key=key)
ys = 3 * xs + 0.5
params = {"w": mx.zeros((1, 1)), "b": mx.zeros((1,))}


def loss(p, x, y):
    return mx.mean(mx.square(x @ p["w"] + p["b"] - y))


step = mx.value_and_grad(loss)
for _ in range(200):
    value, grads = step(params, xs, ys)
    params = {k: params[k] - 0.1 * grads[k] for k in params}
    mx.eval(params)
print(f"loss {value.item():.2e}, w {params['w'].item():.3f}, b {params['b'].item():.3f}")
per_example = mx.vmap(mx.grad(loss), in_axes=(None, 0, 0))(params, xs[:4, None], ys[:4, None])
print(per_example["w"].shape)  # (4, 1, 1)
