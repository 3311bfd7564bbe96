"""Every layer of ``lmx.nn``; each theme lives in its own module."""

# Each layer module is listed here once it exists.
from lmx.nn.layers.base import Module  # noqa: F401
from lmx.nn.layers.activations import *  # noqa: F401,F403
from lmx.nn.layers.convolution import *  # noqa: F401,F403
from lmx.nn.layers.convolution_transpose import *  # noqa: F401,F403
from lmx.nn.layers.pooling import *  # noqa: F401,F403
from lmx.nn.layers.positional_encoding import *  # noqa: F401,F403
from lmx.nn.layers.recurrent import *  # noqa: F401,F403
from lmx.nn.layers.upsample import Upsample  # noqa: F401
from lmx.nn.layers.linear import *  # noqa: F401,F403
from lmx.nn.layers.containers import *  # noqa: F401,F403
from lmx.nn.layers.embedding import *  # noqa: F401,F403
from lmx.nn.layers.dropout import *  # noqa: F401,F403
from lmx.nn.layers.normalization import *  # noqa: F401,F403
from lmx.nn.layers.transformer import *  # noqa: F401,F403
from lmx.nn.layers.quantized import *  # noqa: F401,F403
