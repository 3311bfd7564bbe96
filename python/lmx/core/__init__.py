"""Arrays, ops, devices and evaluation: the counterpart of ``mlx.core``."""

from lmx._core import *  # noqa: F401,F403
from lmx._core import __all__ as _core_all
from lmx import _core
from lmx.core import _array_methods
from lmx.core._array_methods import ArrayAt, ArrayIterator
from lmx.core._runtime import *  # noqa: F401,F403
from lmx.core._runtime import __all__ as _runtime_all
from lmx.core._transforms import checkpoint, custom_function, grad, jvp, value_and_grad, vjp, vmap
from lmx.core._compile import compile, disable_compile, enable_compile, set_compile_mode
from lmx.core._export import FunctionExporter, export_function, export_to_dot, exporter, import_function
from lmx.core._aliases import *  # noqa: F401,F403
from lmx.core._aliases import __all__ as _aliases_all

_array_methods.install()


__all__ = list(_core_all) + list(_aliases_all) + list(_runtime_all) + ["ArrayAt", "ArrayIterator", "grad", "value_and_grad", "vjp", "jvp", "vmap", "custom_function", "checkpoint", "compile", "disable_compile", "enable_compile", "set_compile_mode", "export_function", "import_function", "exporter", "export_to_dot", "FunctionExporter"]
