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
