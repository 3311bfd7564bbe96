"""export_function, import_function, exporter and export_to_dot: traced
functions saved to a file (format in lmx/transforms/export.h) and run again
in another process, as in MLX."""

from lmx import _core
from lmx.core._tree import flatten


def _inputs(args, kwargs, what):
    for a in list(args) + list(kwargs.values()):
        if not isinstance(a, _core.array):
            raise ValueError(f"[{what}] Arguments must be arrays, got {type(a).__name__}.")
    names = sorted(kwargs)
    return list(args) + [kwargs[k] for k in names], names


def _trace(fun, args, kwargs, shapeless):
    inputs, names = _inputs(args, kwargs, "export_function")
    n = len(args)

    def flat(xs):
        out = fun(*xs[:n], **dict(zip(names, xs[n:])))
        leaves, _ = flatten(out)
        return leaves

    return _core._CompiledGraph(flat, inputs, shapeless), n, names


def export_function(file, fun, *args, shapeless=False, **kwargs):
    """Traces fun on the given array arguments and writes the traced graph
    to `file`; import_function reads it back."""
    _core._export_traces(str(file), [_trace(fun, args, kwargs, shapeless)])


class FunctionExporter:
    """Collects several traces of one function (one per call) into a file,
    written when the context ends or close() is called."""

    def __init__(self, file, fun, shapeless=False):
        self._file, self._fun, self._shapeless = str(file), fun, shapeless
        self._traces = []

    def __call__(self, *args, **kwargs):
        self._traces.append(_trace(self._fun, args, kwargs, self._shapeless))

    def close(self):
        _core._export_traces(self._file, self._traces)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            self.close()


def exporter(file, fun, shapeless=False):
    return FunctionExporter(file, fun, shapeless)


class _ImportedFunction:
    def __init__(self, traces):
        self._traces = traces

    def __call__(self, *args, **kwargs):
        inputs, names = _inputs(args, kwargs, "import_function")
        for graph, n, kw in self._traces:
            if n == len(args) and list(kw) == names and graph.accepts(inputs):
                return tuple(graph(inputs))
        sig = ", ".join([f"{tuple(a.shape)} {a.dtype}" for a in args] +
                        [f"{k}={tuple(kwargs[k].shape)} {kwargs[k].dtype}" for k in names])
        raise ValueError(f"[import_function] No imported trace matches the arguments ({sig}); the file holds "
                         f"{len(self._traces)} trace(s).")


def import_function(file):
    """The function export_function wrote to `file`: call it with arrays of a
    traced signature; it returns a tuple of arrays."""
    return _ImportedFunction(_core._import_traces(str(file)))


def export_to_dot(file, *args, **kwargs):
    """Writes the graph that computes the given arrays (or trees of arrays)
    in Graphviz dot syntax to `file` (a path or a writable text file)."""
    outputs, _ = flatten((args, kwargs))
    text = _core._graph_to_dot(outputs)
    if hasattr(file, "write"):
        file.write(text)
    else:
        with open(file, "w") as f:
            f.write(text)
