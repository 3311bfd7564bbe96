"""Shape manipulation (reshape, transpose, concatenate, split, pad, ...) vs NumPy.

Each case in CASES is a function of (xp, a) run once with xp = mx on an MLX
array and once with xp = NP (NumPy, plus the few functions NumPy spells
differently) on its NumPy copy; the results must agree exactly, dtype included.
"""

import numpy as np
import pytest

from conftest import INT_DTYPES, mx, to_numpy

INTLIKE = {"bool_", *INT_DTYPES}
DTYPES = [
    "bool_",
    "int8",
    "uint16",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
]


class _NumPyShim:
    """np, with MLX's names for what NumPy lacks."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def flatten(a, start_axis=0, end_axis=-1):
        if a.ndim == 0:
            return a.reshape(1)
        s, e = start_axis % a.ndim, end_axis % a.ndim
        return a.reshape(a.shape[:s] + (-1,) + a.shape[e + 1 :])

    @staticmethod
    def unflatten(a, axis, shape):
        axis %= a.ndim
        return a.reshape(a.shape[:axis] + tuple(shape) + a.shape[axis + 1 :])


NP = _NumPyShim()


def mx_dtype(name):
    return getattr(mx, name)


def dtype_name(dt):
    name = str(dt).rsplit(".", 1)[-1]
    return "bool_" if name == "bool" else name


def make_data(rng, dtype, shape):
    if dtype == "bool_":
        x = rng.random(shape) < 0.5
    else:
        x = rng.integers(0, 100, shape)
        if dtype == "complex64":
            x = x + 1j * rng.integers(-50, 50, shape)
    return x


def make_view(x, dtype, layout):
    """MLX array equal to x, laid out contiguously or as a non-contiguous view."""
    cast = mx_dtype(dtype)
    if layout == "contiguous" or x.ndim == 0:
        return mx.array(x).astype(cast)
    if layout == "transposed":
        return mx.transpose(mx.array(x.T.copy()).astype(cast))
    if layout == "strided":
        base = np.zeros(tuple(2 * n for n in x.shape), x.dtype)
        index = tuple(slice(None, None, 2) for _ in x.shape)
        base[index] = x
        return mx.array(base).astype(cast)[index]
    if layout == "reversed":
        return mx.array(x[::-1].copy()).astype(cast)[::-1]
    raise AssertionError(layout)


def assert_same(got, expected, dtype):
    if isinstance(expected, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_same(g, e, dtype)
        return
    assert dtype_name(got.dtype) == dtype
    got_np = to_numpy(got)
    assert got_np.shape == expected.shape
    np.testing.assert_array_equal(got_np, expected)


# (id, input shape, fn(xp, a))
CASES = [
    ("reshape", (2, 3, 4), lambda xp, a: xp.reshape(a, (6, 4))),
    ("reshape_infer_last", (2, 3, 4), lambda xp, a: xp.reshape(a, (4, -1))),
    ("reshape_infer_mid", (2, 3, 4), lambda xp, a: xp.reshape(a, (4, -1, 2))),
    ("reshape_flat", (2, 3, 4), lambda xp, a: xp.reshape(a, (-1,))),
    ("reshape_ones", (2, 3, 4), lambda xp, a: xp.reshape(a, (1, 24, 1))),
    ("reshape_0d", (), lambda xp, a: xp.reshape(a, (1, 1))),
    ("reshape_to_0d", (1, 1), lambda xp, a: xp.reshape(a, ())),
    ("reshape_empty", (0, 3), lambda xp, a: xp.reshape(a, (3, 0))),
    ("reshape_empty_infer", (0, 6), lambda xp, a: xp.reshape(a, (-1, 3))),
    ("flatten", (2, 3, 4), lambda xp, a: xp.flatten(a)),
    ("flatten_mid", (2, 3, 4), lambda xp, a: xp.flatten(a, 1, 2)),
    ("flatten_neg", (2, 3, 4, 5), lambda xp, a: xp.flatten(a, -3, -2)),
    ("flatten_single", (2, 3, 4), lambda xp, a: xp.flatten(a, 1, 1)),
    ("flatten_0d", (), lambda xp, a: xp.flatten(a)),
    ("unflatten", (2, 12, 5), lambda xp, a: xp.unflatten(a, 1, (3, 4))),
    ("unflatten_infer", (2, 12), lambda xp, a: xp.unflatten(a, -1, (2, -1, 3))),
    ("squeeze_all", (1, 3, 1, 2), lambda xp, a: xp.squeeze(a)),
    ("squeeze_axis", (1, 3, 1, 2), lambda xp, a: xp.squeeze(a, 2)),
    ("squeeze_axes", (1, 3, 1, 2), lambda xp, a: xp.squeeze(a, (0, -2))),
    ("squeeze_to_0d", (1, 1), lambda xp, a: xp.squeeze(a)),
    ("expand_dims", (2, 3), lambda xp, a: xp.expand_dims(a, 0)),
    ("expand_dims_neg", (2, 3), lambda xp, a: xp.expand_dims(a, -1)),
    ("expand_dims_multi", (2, 3), lambda xp, a: xp.expand_dims(a, (0, 3))),
    ("expand_dims_multi_neg", (2, 3), lambda xp, a: xp.expand_dims(a, (-1, 0, 2))),
    ("expand_dims_0d", (), lambda xp, a: xp.expand_dims(a, (0, 1))),
    ("transpose", (2, 3, 4), lambda xp, a: xp.transpose(a)),
    ("transpose_axes", (2, 3, 4), lambda xp, a: xp.transpose(a, (1, 0, 2))),
    ("transpose_neg", (2, 3, 4), lambda xp, a: xp.transpose(a, (-1, 0, 1))),
    ("transpose_0d", (), lambda xp, a: xp.transpose(a)),
    ("permute_dims", (2, 3, 4), lambda xp, a: xp.permute_dims(a, (2, 0, 1))),
    ("swapaxes", (2, 3, 4), lambda xp, a: xp.swapaxes(a, 0, 2)),
    ("swapaxes_neg", (2, 3, 4), lambda xp, a: xp.swapaxes(a, -1, 1)),
    ("swapaxes_same", (2, 3, 4), lambda xp, a: xp.swapaxes(a, 1, 1)),
    ("moveaxis", (2, 3, 4), lambda xp, a: xp.moveaxis(a, 0, 2)),
    ("moveaxis_neg", (2, 3, 4, 5), lambda xp, a: xp.moveaxis(a, -1, 1)),
    ("broadcast_to", (3, 1), lambda xp, a: xp.broadcast_to(a, (2, 3, 4))),
    ("broadcast_to_1", (1,), lambda xp, a: xp.broadcast_to(a, (5,))),
    ("broadcast_to_0d", (), lambda xp, a: xp.broadcast_to(a, (2, 2))),
    ("broadcast_to_empty", (3,), lambda xp, a: xp.broadcast_to(a, (0, 3))),
    (
        "broadcast_arrays",
        (3, 1),
        lambda xp, a: xp.broadcast_arrays(a, a[:1, :1], xp.reshape(a, (1, 3))),
    ),
    ("concatenate", (2, 3), lambda xp, a: xp.concatenate([a, a[:1], a], axis=0)),
    ("concatenate_axis1", (2, 3), lambda xp, a: xp.concatenate([a, a[:, :2]], axis=1)),
    ("concatenate_neg", (2, 3, 4), lambda xp, a: xp.concatenate([a, a], axis=-2)),
    (
        "concatenate_none",
        (2, 3),
        lambda xp, a: xp.concatenate([a, a[:1, :2]], axis=None),
    ),
    ("concatenate_single", (2, 3), lambda xp, a: xp.concatenate([a])),
    (
        "concatenate_empty_part",
        (2, 3),
        lambda xp, a: xp.concatenate([a, a[:0]], axis=0),
    ),
    ("concat", (2, 3), lambda xp, a: xp.concat([a, a], axis=1)),
    ("stack", (2, 3), lambda xp, a: xp.stack([a, a, a])),
    ("stack_last", (2, 3), lambda xp, a: xp.stack([a, a], axis=-1)),
    ("stack_mid", (2, 3), lambda xp, a: xp.stack([a, a], axis=1)),
    ("stack_0d", (), lambda xp, a: xp.stack([a, a])),
    ("unstack", (3, 2, 4), lambda xp, a: xp.unstack(a)),
    ("unstack_axis", (3, 2, 4), lambda xp, a: xp.unstack(a, axis=-1)),
    ("split_sections", (2, 6), lambda xp, a: xp.split(a, 3, axis=1)),
    ("split_default_axis", (4, 3), lambda xp, a: xp.split(a, 2)),
    ("split_indices", (2, 7), lambda xp, a: xp.split(a, [1, 3], axis=-1)),
    ("split_indices_oob", (2, 5), lambda xp, a: xp.split(a, [2, 9], axis=1)),
    ("split_indices_decreasing", (2, 5), lambda xp, a: xp.split(a, [3, 1], axis=1)),
    ("repeat_flat", (2, 3), lambda xp, a: xp.repeat(a, 2)),
    ("repeat_axis", (2, 3), lambda xp, a: xp.repeat(a, 3, axis=1)),
    ("repeat_neg_axis", (2, 3), lambda xp, a: xp.repeat(a, 2, axis=-2)),
    ("repeat_zero", (2, 3), lambda xp, a: xp.repeat(a, 0, axis=0)),
    ("tile_int", (2, 3), lambda xp, a: xp.tile(a, 2)),
    ("tile_tuple", (2, 3), lambda xp, a: xp.tile(a, (2, 1))),
    ("tile_more_dims", (2, 3), lambda xp, a: xp.tile(a, (2, 1, 3))),
    ("tile_fewer_dims", (2, 3, 2), lambda xp, a: xp.tile(a, (2,))),
    ("tile_zero", (2, 3), lambda xp, a: xp.tile(a, (0, 2))),
    ("pad_int", (2, 3), lambda xp, a: xp.pad(a, 1)),
    ("pad_pair", (2, 3, 2), lambda xp, a: xp.pad(a, (1, 2))),
    ("pad_single_pair_list", (2, 3), lambda xp, a: xp.pad(a, [(2, 0)])),
    ("pad_per_axis", (2, 3, 2), lambda xp, a: xp.pad(a, [(0, 1), (2, 0), (1, 1)])),
    ("pad_value", (2, 3), lambda xp, a: xp.pad(a, [(1, 0), (0, 2)], constant_values=7)),
    ("pad_edge", (2, 3), lambda xp, a: xp.pad(a, [(1, 2), (3, 1)], mode="edge")),
    ("pad_edge_int", (4,), lambda xp, a: xp.pad(a, 3, mode="edge")),
    ("pad_reflect", (3, 4), lambda xp, a: xp.pad(a, [(2, 1), (3, 3)], mode="reflect")),
    (
        "pad_symmetric",
        (3, 4),
        lambda xp, a: xp.pad(a, [(2, 3), (1, 4)], mode="symmetric"),
    ),
    ("pad_zero", (2, 3), lambda xp, a: xp.pad(a, 0)),
    ("flip_all", (2, 3, 4), lambda xp, a: xp.flip(a)),
    ("flip_axis", (2, 3, 4), lambda xp, a: xp.flip(a, 1)),
    ("flip_axes", (2, 3, 4), lambda xp, a: xp.flip(a, (0, -1))),
    ("roll_flat", (2, 3, 4), lambda xp, a: xp.roll(a, 5)),
    ("roll_axis", (2, 3, 4), lambda xp, a: xp.roll(a, -1, 1)),
    ("roll_big_shift", (2, 3, 4), lambda xp, a: xp.roll(a, 11, 2)),
    ("roll_tuples", (2, 3, 4), lambda xp, a: xp.roll(a, (1, -2), (0, 2))),
    ("roll_one_shift_many_axes", (2, 3, 4), lambda xp, a: xp.roll(a, 2, (1, 2))),
    ("atleast_1d_0d", (), lambda xp, a: xp.atleast_1d(a)),
    ("atleast_1d_2d", (2, 3), lambda xp, a: xp.atleast_1d(a)),
    ("atleast_2d_0d", (), lambda xp, a: xp.atleast_2d(a)),
    ("atleast_2d_1d", (3,), lambda xp, a: xp.atleast_2d(a)),
    ("atleast_2d_3d", (2, 3, 4), lambda xp, a: xp.atleast_2d(a)),
    ("atleast_3d_0d", (), lambda xp, a: xp.atleast_3d(a)),
    ("atleast_3d_1d", (3,), lambda xp, a: xp.atleast_3d(a)),
    ("atleast_3d_2d", (2, 3), lambda xp, a: xp.atleast_3d(a)),
    (
        "atleast_2d_many",
        (3,),
        lambda xp, a: xp.atleast_2d(a, a[0], xp.reshape(a, (1, 1, 3))),
    ),
    ("diagonal", (4, 5), lambda xp, a: xp.diagonal(a)),
    ("diagonal_offset", (4, 5), lambda xp, a: xp.diagonal(a, 1)),
    ("diagonal_neg_offset", (4, 5), lambda xp, a: xp.diagonal(a, -2)),
    ("diagonal_offset_past_end", (4, 5), lambda xp, a: xp.diagonal(a, 7)),
    ("diagonal_3d", (2, 3, 4), lambda xp, a: xp.diagonal(a, 0, 1, 2)),
    ("diagonal_3d_axes", (2, 3, 4), lambda xp, a: xp.diagonal(a, 1, 2, 0)),
    ("diagonal_3d_neg_axes", (3, 2, 4), lambda xp, a: xp.diagonal(a, -1, -1, 0)),
    ("diag_vector", (4,), lambda xp, a: xp.diag(a)),
    ("diag_vector_k", (3,), lambda xp, a: xp.diag(a, 2)),
    ("diag_vector_neg_k", (3,), lambda xp, a: xp.diag(a, -1)),
    ("diag_matrix", (3, 5), lambda xp, a: xp.diag(a)),
    ("diag_matrix_k", (3, 5), lambda xp, a: xp.diag(a, 2)),
    ("diag_matrix_neg_k", (4, 3), lambda xp, a: xp.diag(a, -1)),
    ("diag_matrix_far_k", (2, 3), lambda xp, a: xp.diag(a, 5)),
]
CASE_IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_shape_op(case, dtype, rng):
    _, shape, fn = case
    x = make_data(rng, dtype, shape)
    a = make_view(x, dtype, "contiguous")
    assert_same(fn(mx, a), fn(NP, to_numpy(a)), dtype)


@pytest.mark.parametrize("layout", ["transposed", "strided", "reversed"])
@pytest.mark.parametrize(
    "case", [c for c in CASES if c[1]], ids=[c[0] for c in CASES if c[1]]
)
def test_shape_op_non_contiguous(case, layout, rng):
    _, shape, fn = case
    x = make_data(rng, "int32", shape)
    a = make_view(x, "int32", layout)
    np.testing.assert_array_equal(to_numpy(a), x)
    assert_same(fn(mx, a), fn(NP, x.astype(np.int32)), "int32")


def test_reshape_of_non_contiguous_keeps_logical_order():
    a = mx.transpose(mx.reshape(mx.arange(6), (2, 3)))
    np.testing.assert_array_equal(to_numpy(mx.reshape(a, (6,))), [0, 3, 1, 4, 2, 5])
    np.testing.assert_array_equal(to_numpy(mx.flatten(a[::-1])), [2, 5, 1, 4, 0, 3])


@pytest.mark.parametrize("dtype", ["uint16", "float16", "bfloat16", "int32", "float32", "int64", "int8"])
@pytest.mark.parametrize(
    "shape,perm",
    [
        ((8, 8), (1, 0)),
        ((7, 8), (1, 0)),
        ((9, 17), (1, 0)),
        ((100, 1000), (1, 0)),
        ((65, 33), (1, 0)),
        ((3, 40, 24), (0, 2, 1)),
        ((3, 40, 24), (2, 1, 0)),
        ((2, 3, 16, 9), (1, 3, 0, 2)),
    ],
)
def test_transposing_copy(shape, perm, dtype, rng):
    # contiguous() of a transposed view takes the tiled path (8x8 register
    # blocks for 2- and 4-byte types, whatever is left over elementwise); a
    # strided, reversed source, and a dtype change on the way, too.
    x = (rng.standard_normal(shape) * 50).astype(np.float32)
    a = mx.array(x).astype(getattr(mx, dtype))
    ref = to_numpy(a)
    np.testing.assert_array_equal(to_numpy(mx.contiguous(a.transpose(perm))), ref.transpose(perm))
    view = a[::-1, 1:] if len(shape) == 2 else a[:, ::2]
    ref_view = ref[::-1, 1:] if len(shape) == 2 else ref[:, ::2]
    np.testing.assert_array_equal(to_numpy(mx.contiguous(view.transpose(perm))), ref_view.transpose(perm))
    widened = a.transpose(perm).astype(mx.float32)
    np.testing.assert_array_equal(to_numpy(widened), ref.transpose(perm).astype(np.float32))


def test_long_flat_copies_split_over_threads(rng):
    # One-dimensional copies of 2^18+ elements are split over the threads:
    # plain, reversed, strided, broadcast and converting ones, and the inputs
    # of a concatenation.
    x = rng.standard_normal((1 << 18) * 3 + 5).astype(np.float32)
    a = mx.array(x)
    np.testing.assert_array_equal(to_numpy(mx.contiguous(a[::-1])), x[::-1])
    np.testing.assert_array_equal(to_numpy(mx.contiguous(a[1::3])), x[1::3])
    np.testing.assert_array_equal(to_numpy(a.astype(mx.float16)), x.astype(np.float16))
    np.testing.assert_array_equal(to_numpy(mx.broadcast_to(a[7], (1 << 19,)) + 0), np.full(1 << 19, x[7]))
    np.testing.assert_array_equal(to_numpy(mx.concatenate([a, a[::2], a[:3]])), np.concatenate([x, x[::2], x[:3]]))


def test_broadcast_shapes():
    assert tuple(mx.broadcast_shapes((1, 3), (2, 1), (5, 1, 1))) == (5, 2, 3)
    assert tuple(mx.broadcast_shapes((0, 1), (1, 4))) == (0, 4)
    assert tuple(mx.broadcast_shapes((), (3,))) == (3,)
    assert tuple(mx.broadcast_shapes((4, 2))) == (4, 2)
    for shapes in [((1, 3), (2, 1)), ((7,), (3, 1, 1)), ((2, 1, 1), (1, 4, 3))]:
        assert tuple(mx.broadcast_shapes(*shapes)) == np.broadcast_shapes(*shapes)


def test_concatenate_and_stack_promote_dtypes():
    parts = [mx.array([1], dtype=mx.int8), mx.array([1.5], dtype=mx.float16)]
    assert mx.concatenate(parts).dtype == mx.float16
    assert mx.stack(parts).dtype == mx.float16
    got = mx.concatenate(
        [mx.array([1, 2], dtype=mx.uint8), mx.array([-1], dtype=mx.int8)]
    )
    assert got.dtype == mx.int16
    np.testing.assert_array_equal(to_numpy(got), [1, 2, -1])


@pytest.mark.parametrize(
    "dtype,out",
    [
        ("int8", "int32"),
        ("bool_", "int32"),
        ("uint8", "uint32"),
        ("int64", "int64"),
        ("float16", "float16"),
        ("float32", "float32"),
    ],
)
def test_trace(dtype, out, rng):
    x = make_data(rng, dtype, (4, 5))
    a = mx.array(x).astype(mx_dtype(dtype))
    for offset in (0, 1, -2, 9):
        got = mx.trace(a, offset)
        assert dtype_name(got.dtype) == out and got.shape == ()
        assert to_numpy(got) == np.trace(x.astype(np.int64), offset)


def test_trace_axes_and_dtype(rng):
    x = rng.integers(0, 10, (3, 4, 5))
    a = mx.array(x)
    got = mx.trace(a, 1, 0, 2)
    np.testing.assert_array_equal(to_numpy(got), np.trace(x, 1, 0, 2))
    got = mx.trace(mx.transpose(a), axis1=-1, axis2=0)
    np.testing.assert_array_equal(to_numpy(got), np.trace(x.T, axis1=-1, axis2=0))
    got = mx.trace(a, dtype=mx.float16)
    assert got.dtype == mx.float16 and to_numpy(got).shape == (5,)
    np.testing.assert_array_equal(to_numpy(got), np.trace(x))


def test_pad_constant_is_cast_to_array_dtype():
    got = mx.pad(mx.arange(3), 1, constant_values=2.5)
    assert got.dtype == mx.int32
    np.testing.assert_array_equal(to_numpy(got), [2, 0, 1, 2, 2])
    got = mx.pad(mx.arange(3), 1, constant_values=mx.array(7))
    np.testing.assert_array_equal(to_numpy(got), [7, 0, 1, 2, 7])
    got = mx.pad(mx.array([1.0, 2.0]), (2, 1), constant_values=-1.5)
    np.testing.assert_array_equal(to_numpy(got), [-1.5, -1.5, 1.0, 2.0, -1.5])


@pytest.mark.parametrize("width", [1, 3, 5, 9])
@pytest.mark.parametrize("mode", ["edge", "reflect", "symmetric"])
def test_pad_modes_wide(mode, width):
    # widths past the array length wrap repeatedly, as in NumPy
    x = np.arange(4)
    np.testing.assert_array_equal(
        to_numpy(mx.pad(mx.array(x), width, mode=mode)), np.pad(x, width, mode=mode)
    )


def test_split_and_unstack_results():
    parts = mx.split(mx.arange(12).reshape(3, 4), [1], axis=0)
    assert len(parts) == 2 and parts[0].shape == (1, 4) and parts[1].shape == (2, 4)
    rows = mx.unstack(mx.arange(6).reshape(3, 2))
    assert len(rows) == 3 and all(r.shape == (2,) for r in rows)
    np.testing.assert_array_equal(to_numpy(rows[2]), [4, 5])


def test_atleast_returns_list_for_many():
    got = mx.atleast_1d(mx.array(1), mx.array([1, 2]))
    assert isinstance(got, list) and [g.shape for g in got] == [(1,), (2,)]
    single = mx.atleast_3d(mx.array([1, 2]))
    assert isinstance(single, mx.array) and single.shape == (1, 2, 1)


def _a(*shape):
    return mx.zeros(shape)


ERRORS = [
    ("reshape_bad_size", lambda: mx.reshape(_a(2, 3, 4), (5, 5)), ValueError),
    ("reshape_two_infer", lambda: mx.reshape(_a(2, 3, 4), (-1, -1)), ValueError),
    ("reshape_infer_indivisible", lambda: mx.reshape(_a(2, 3, 4), (5, -1)), ValueError),
    ("reshape_negative", lambda: mx.reshape(_a(2, 3, 4), (-2, 12)), ValueError),
    (
        "reshape_empty_infer_ambiguous",
        lambda: mx.reshape(_a(0, 3), (-1, 0)),
        ValueError,
    ),
    ("flatten_start_after_end", lambda: mx.flatten(_a(2, 3, 4), 2, 1), ValueError),
    ("unflatten_bad_shape", lambda: mx.unflatten(_a(2, 3, 4), 2, (3, 2)), ValueError),
    ("unflatten_two_infer", lambda: mx.unflatten(_a(2, 12), 1, (-1, -1)), ValueError),
    ("unflatten_axis_oob", lambda: mx.unflatten(_a(2, 3, 4), 3, (2, 2)), IndexError),
    ("squeeze_non_one", lambda: mx.squeeze(_a(2, 3), 0), ValueError),
    ("squeeze_axis_oob", lambda: mx.squeeze(_a(1, 3), 2), IndexError),
    ("expand_dims_oob", lambda: mx.expand_dims(_a(2, 3), 3), IndexError),
    ("expand_dims_multi_oob", lambda: mx.expand_dims(_a(2, 3), (0, 5)), IndexError),
    ("expand_dims_duplicate", lambda: mx.expand_dims(_a(2, 3), (0, 0)), ValueError),
    ("transpose_wrong_count", lambda: mx.transpose(_a(2, 3, 4), (0, 1)), ValueError),
    ("transpose_repeated", lambda: mx.transpose(_a(2, 3, 4), (0, 1, 1)), ValueError),
    ("transpose_axis_oob", lambda: mx.transpose(_a(2, 3, 4), (0, 1, 3)), IndexError),
    ("permute_dims_repeated", lambda: mx.permute_dims(_a(2, 3), (1, 1)), ValueError),
    ("swapaxes_oob", lambda: mx.swapaxes(_a(2, 3), 0, 2), IndexError),
    ("moveaxis_oob", lambda: mx.moveaxis(_a(2, 3), -3, 0), IndexError),
    (
        "broadcast_to_incompatible",
        lambda: mx.broadcast_to(_a(2, 3), (3, 3)),
        ValueError,
    ),
    ("broadcast_to_fewer_dims", lambda: mx.broadcast_to(_a(2, 3), (3,)), ValueError),
    ("broadcast_to_negative", lambda: mx.broadcast_to(_a(3), (-1, 3)), ValueError),
    (
        "broadcast_arrays_incompatible",
        lambda: mx.broadcast_arrays(_a(2, 3), _a(2)),
        ValueError,
    ),
    (
        "broadcast_shapes_incompatible",
        lambda: mx.broadcast_shapes((2, 3), (3, 2)),
        ValueError,
    ),
    ("broadcast_shapes_none", lambda: mx.broadcast_shapes(), ValueError),
    (
        "concatenate_shape_mismatch",
        lambda: mx.concatenate([_a(2, 3), _a(2, 4)], axis=0),
        ValueError,
    ),
    (
        "concatenate_ndim_mismatch",
        lambda: mx.concatenate([_a(2, 3), _a(3)]),
        ValueError,
    ),
    (
        "concatenate_axis_oob",
        lambda: mx.concatenate([_a(2, 3), _a(2, 3)], axis=2),
        IndexError,
    ),
    ("concatenate_empty_list", lambda: mx.concatenate([]), ValueError),
    ("stack_shape_mismatch", lambda: mx.stack([_a(2, 3), _a(2, 4)]), ValueError),
    ("stack_empty_list", lambda: mx.stack([]), ValueError),
    ("stack_axis_oob", lambda: mx.stack([_a(2), _a(2)], axis=2), IndexError),
    ("split_unequal", lambda: mx.split(_a(2, 5), 2, axis=1), ValueError),
    ("split_zero_sections", lambda: mx.split(_a(4), 0), ValueError),
    ("split_axis_oob", lambda: mx.split(_a(4), 2, axis=1), IndexError),
    ("unstack_axis_oob", lambda: mx.unstack(_a(2, 3), axis=2), IndexError),
    ("repeat_negative", lambda: mx.repeat(_a(2, 3), -1, axis=0), ValueError),
    ("repeat_axis_oob", lambda: mx.repeat(_a(2, 3), 2, axis=2), IndexError),
    ("tile_negative", lambda: mx.tile(_a(2, 3), -1), ValueError),
    ("pad_negative", lambda: mx.pad(_a(2, 3), -1), ValueError),
    ("pad_bad_mode", lambda: mx.pad(_a(2, 3), 1, mode="wrap"), ValueError),
    ("pad_wrong_count", lambda: mx.pad(_a(2, 3, 4), [(1, 1), (1, 1)]), ValueError),
    ("flip_axis_oob", lambda: mx.flip(_a(2, 3), 2), IndexError),
    ("roll_axis_oob", lambda: mx.roll(_a(2, 3), 1, 2), IndexError),
    ("diagonal_same_axes", lambda: mx.diagonal(_a(2, 3), 0, 1, 1), ValueError),
    ("diagonal_axis_oob", lambda: mx.diagonal(_a(2, 3), 0, 0, 2), IndexError),
    ("diagonal_1d", lambda: mx.diagonal(_a(3)), ValueError),
    ("diag_3d", lambda: mx.diag(_a(2, 2, 2)), ValueError),
    ("diag_0d", lambda: mx.diag(mx.array(1.0)), ValueError),
    ("trace_1d", lambda: mx.trace(_a(3)), ValueError),
]


@pytest.mark.parametrize("fn,exc", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_arguments_raise(fn, exc):
    with pytest.raises(exc):
        mx.eval(fn())
