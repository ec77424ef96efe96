"""btf, "Better TensorFlow (not really)": a small, fast, readable numpy neural-network library.

The folder says which code is which. The library is the top-level modules: ``btf.Graph``
(graph), its layers (layers, batchnorm, specs), optimizers, activations and costs, pickle-free
checkpoints (checkpoint, npz, footprint), and MNIST data (data, download, augment). ``import
btf`` loads numpy and the standard library, nothing else.

The digit service's building blocks live in subpackages, imported only by name, and the
library never imports them:

- ``btf.images``: image files to network inputs (OpenCV), with a header-only cost budget;
- ``btf.digits``: the digit contract and the one reading every caller makes, whole numbers
  (segment, cuts, numbers), calibration, evaluation, "not a digit" training drawings, reports;
- ``btf.store``: the versioned model store on a folder or S3, the registry and the promotion gate.
"""

from btf.errors import BtfError, CheckpointError, ConfigError, DataError
from btf.graph import Graph

__version__ = "0.1.0"
__all__ = ["BtfError", "CheckpointError", "ConfigError", "DataError", "Graph", "__version__"]
