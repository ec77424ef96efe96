"""btf, "Better TensorFlow (not really)": a small, fast, readable numpy neural-network library.

``import btf`` loads numpy and the standard library, nothing else: ``btf.Graph`` with its
layers (``btf.layers``), optimizers and pickle-free checkpoints, and ``btf.data`` (MNIST
loaders and data checks). Optional modules, imported only by name: ``btf.download``
(verified MNIST download, stdlib HTTP), ``btf.vision`` and ``btf.imagefile`` (image to
network input, need OpenCV), ``btf.imageheader`` (what decoding an image will cost, from its
header; standard library only), ``btf.store`` (versioned model store and registry on a folder or
S3, boto3 only for S3), ``btf.gate`` (the promotion gate, scoring both sides with
``btf.evaluation``) and ``btf.report`` (matplotlib); ``btf.digits`` (the digit contract and
the one reading every caller makes: closest digit, calibrated confidences, is it a digit)
and ``btf.calibration`` are numpy only; ``btf.negatives``, ``btf.shapes`` and ``btf.redraw``
(drawings to train "not a digit" on) need OpenCV, and Pillow for fonts.
"""

from btf.errors import BtfError, CheckpointError, ConfigError, DataError
from btf.graph import Graph

__version__ = "0.1.0"
__all__ = ["BtfError", "CheckpointError", "ConfigError", "DataError", "Graph", "__version__"]
