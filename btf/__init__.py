"""btf, "Better TensorFlow (not really)": a small, fast, readable numpy neural-network library.

``import btf`` loads numpy and nothing else. Optional modules, imported only by name:
``btf.data`` (MNIST loaders), ``btf.download`` (verified MNIST download, stdlib HTTP),
``btf.vision`` (image to network input, needs OpenCV) and ``btf.store`` (versioned model
store on a folder or S3, boto3 only for S3).
"""

from btf.errors import BtfError, CheckpointError, ConfigError, DataError
from btf.graph import Graph

__version__ = "0.1.0"
__all__ = ["BtfError", "CheckpointError", "ConfigError", "DataError", "Graph", "__version__"]
