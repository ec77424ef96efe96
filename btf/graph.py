"""btf.Graph: a feed-forward network of btf.layers, trained by mini-batch gradient descent, in numpy.

The vocabulary is the original project's: ``Graph(sizes, learning_rate, batch_size)``,
``feed``, ``batchify``, ``run(epochs)``, ``validate``, ``predict``, ``save``, ``load``.

One engine: ``Graph((784, 30, 10), 3.0, 10)`` is shorthand for the original network (dense sigmoid
layers, quadratic cost, plain SGD), which trains as network.py's per-sample loop does to float32's
precision; ``Graph([Conv2D(32, 3), MaxPool2D(), Flatten(), Dense(10)], ...)`` runs any list of
btf.layers the same way. A mini-batch: each layer's ``forward``, the cost's output and delta dC/dz,
each layer's ``backward`` in reverse (dC/doutput to dC/dinput and its parameters' gradients), one
optimizer step. Inputs are (n, features) rows in [0, 1], reshaped to ``input_shape``; all float32.
Limits: CPU only, the data set in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from btf import checkpoint, costs
from btf.data import check_pair
from btf.errors import CheckpointError, ConfigError, DataError
from btf.footprint import Footprint, Limits, of_layers, rows_per_chunk
from btf.inference import Inference
from btf.layers import Dense, Layer
from btf.optimizers import Optimizer
from btf.progress import bar, epoch_line
from btf.specs import dense_layers, plan

Data = tuple[np.ndarray, np.ndarray]
Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class Graph:
    """A network of layers: ``sizes`` = (inputs, hidden..., outputs) dense neurons, or a list of btf.layers
    (which become this Graph's, built and trained in place; ``activation`` and ``init`` shape the sizes form).

    ``init="scaled"`` (the default) draws weights from N(0, 1/fan_in), 2/fan_in before relu. The original's
    ``"normal"``, N(0, 1), saturates 784-input sigmoids (pre-activations' deviation ~9): 87% dev accuracy, not 93%.
    """

    def __init__(
        self,
        sizes: Sequence[int] | Sequence[Layer],
        learning_rate: float = 3.0,
        batch_size: int = 10,
        *,
        activation: str = "sigmoid",
        cost: str = "quadratic",
        l2: float = 0.0,
        init: str = "scaled",
        seed: int | None = None,
        optimizer: str = "sgd",
        input_shape: Sequence[int] | None = None,
    ) -> None:
        if len(sizes) and isinstance(sizes[0], Layer):
            layers, input_shape = list(sizes), input_shape or (28, 28, 1)
        else:
            layers, input_shape = dense_layers(sizes, activation, init), (int(sizes[0]),) if len(sizes) else ()
        hyper = {"learning_rate": learning_rate, "batch_size": batch_size, "cost": cost, "l2": l2}
        self._assemble(layers, input_shape, np.random.default_rng(seed), None, optimizer=optimizer, **hyper)

    def _assemble(self, layers, input_shape, rng, params, *, learning_rate, batch_size, cost, l2, optimizer) -> None:
        """The one constructor, for a new network (``params`` None: drawn from ``rng``) and a loaded one."""
        if cost not in costs.COSTS:
            raise ConfigError(f"cost must be one of {costs.COSTS}, not {cost!r}")
        if not (np.isfinite(l2) and l2 >= 0):
            raise ConfigError(f"l2 must be zero or positive, got {l2}")
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        plan(layers, input_shape)  # every rule a layer list must meet, as the checkpoint reader checks them
        self.rng, self.layers, self.input_shape = rng, list(layers), tuple(int(d) for d in input_shape)
        self.batch_size, self.cost, self.l2 = int(batch_size), cost, float(l2)
        self.optimizer = Optimizer(optimizer, 1.0, self.l2)
        self.set_learning_rate(learning_rate)
        shape, at = self.input_shape, 0
        for layer in self.layers:
            count = len(layer.shapes(shape)[1])
            shape = layer.build(shape, rng, None if params is None else params[at : at + count])
            at += count
        self.layers[0].input_grad = False  # nothing needs dC/dinput of the data
        # Dense units after the input's features: for a dense network, the original's sizes.
        self.sizes = (int(np.prod(self.input_shape)), *(n.units for n in self.layers if isinstance(n, Dense)))
        # What it costs to hold and run (parameters; working memory and multiply-adds per image).
        self.footprint: Footprint = of_layers(self.layers, self.input_shape)
        self._inference = Inference(self.layers, rows_per_chunk(self.footprint))  # prediction's fused path
        self.trainable = [p for layer in self.layers for p in layer.trainable]  # updated in place, never replaced
        self.epochs, self.metadata = 0, {}
        self.train_data: Data | None = None
        self.val_data: Data | None = None

    @property
    def params(self) -> list[np.ndarray]:
        """Every stored array in layer order, as checkpoints hold them (BatchNorm's running statistics included)."""
        return [p for layer in self.layers for p in layer.params]

    def set_learning_rate(self, learning_rate: float) -> None:
        """Change the step size (between epochs, for a schedule); the optimizer's state is kept."""
        if not (np.isfinite(learning_rate) and 0 < learning_rate <= np.finfo(np.float32).max):
            raise ConfigError(f"learning_rate must be a positive number, got {learning_rate}")
        self.learning_rate = float(learning_rate)
        self.optimizer.lr = np.float32(learning_rate)

    def __repr__(self) -> str:
        trained = f", trained {self.epochs} epochs" if self.epochs else ""  # a count so far, not a setting
        settings = f"learning_rate={self.learning_rate}, batch_size={self.batch_size}, cost={self.cost!r}, l2={self.l2}"
        specs = [layer.spec() for layer in self.layers]
        return f"Graph({specs}, input_shape={self.input_shape}, optimizer={self.optimizer.name!r}, {settings}{trained})"

    # ----------------------------------------------------------------- data
    def feed(self, train: Data, val: Data | None = None) -> None:
        """Give it training and, optionally, validation data: ``(X, y)``, X (n, inputs) in [0, 1], y n int labels."""
        self.train_data = check_pair(train, self.sizes[0], self.sizes[-1], "train")
        self.val_data = None if val is None else check_pair(val, self.sizes[0], self.sizes[-1], "val")

    def batchify(self, X: np.ndarray, Y: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Shuffle (a permutation per epoch); yield mini-batches gathered straight from it: no second copy of the data."""
        order = self.rng.permutation(len(X))
        for start in range(0, len(X), self.batch_size):
            batch = order[start : start + self.batch_size]
            yield X[batch], Y[batch]

    # ------------------------------------------------------------- training
    def _forward(self, X: np.ndarray, training: bool) -> np.ndarray:
        a = X.reshape(len(X), *self.input_shape)
        for layer in self.layers:
            a = layer.forward(a, training)
        if training and self.layers[-1].activation is not None:
            a = a.copy()  # the last layer keeps its activated output for backward: the cost's output works in place
        return costs.output(self.cost, a)

    def backprop(self, X: np.ndarray, Y: np.ndarray) -> list[np.ndarray]:
        """Gradients of the mean cost over the batch (X, one-hot Y), one per ``trainable`` array, weight decay
        excluded. Its forward pass trains: BatchNorm updates its running statistics, Dropout draws masks."""
        return self._gradients(X, Y, np.float32(1 / len(X)))[0]

    def _gradients(self, X: np.ndarray, Y: np.ndarray, scale: np.float32) -> tuple[list[np.ndarray], np.ndarray]:
        """(gradients times ``scale``, the output). ``scale`` folds the mean's 1/m and SGD's rate into one multiply."""
        out = self._forward(X, training=True)
        delta = costs.output_delta(self.cost, out, Y)
        delta *= scale
        grads: list[list[np.ndarray]] = []
        for layer in reversed(self.layers):
            delta, layer_grads = layer.backward(delta)
            grads.append(layer_grads)
        return [g for layer_grads in reversed(grads) for g in layer_grads], out

    def train_epoch(self, progress: Any = None, augment: Augment | None = None) -> float:
        """One pass over the fed training data; returns its wall time in seconds. ``augment(X, rng)``, if
        given, returns a distorted copy of the inputs to train on instead (see btf.augment.distort)."""
        if self.train_data is None:
            raise DataError("no training data: call feed(train, val) first")
        if self.learning_rate * self.l2 >= 1:  # the decay's factor 1 - lr * l2 would flip weights' signs
            raise ConfigError(f"learning_rate * l2 must be below 1, got {self.learning_rate * self.l2:g}")
        start = time.perf_counter()
        inputs = self.train_data[0] if augment is None else augment(self.train_data[0], self.rng)
        targets = costs.one_hot(self.train_data[1], self.sizes[-1])
        # Each batch's output and targets, kept (fresh arrays, by reference): the epoch's loss and accuracy
        # (Keras's: means over the batches as trained) come from them once at the end, cheaper than per batch.
        outs, seen = [], []
        for X, Y in self.batchify(inputs, targets):
            grads, out = self._gradients(X, Y, self.optimizer.gradient_scale / np.float32(len(X)))
            self.optimizer.update(self.trainable, grads)
            outs.append(out), seen.append(Y)
            if progress is not None:
                progress.update(1)
        self.epochs += 1
        outputs, seen = np.concatenate(outs), np.concatenate(seen)
        # One-hot rows times 0..k-1 are their labels: one product, where argmax loops over the rows.
        right = int((outputs.argmax(axis=1) == seen @ np.arange(seen.shape[1], dtype=np.float32)).sum())
        loss = costs.loss(self.cost, outputs, seen) + costs.penalty(self.l2, self.trainable)
        self.last_train = {"train_loss": loss, "train_accuracy": right / len(inputs)}
        return time.perf_counter() - start

    def run(
        self, epochs: int, *, progress: bool = True, log: Any = print, augment: Augment | None = None
    ) -> list[dict[str, float]]:
        """Train for ``epochs`` epochs; return one dict of figures per epoch. Each shows a progress bar (with
        tqdm installed and ``progress`` true) and a one-line summary through ``log`` (``None``: silence)."""
        if self.train_data is None:
            raise DataError("no training data: call feed(train, val) first")
        n_batches, history = -(-len(self.train_data[0]) // self.batch_size), []
        for _ in range(int(epochs)):
            with bar(progress, n_batches, f"epoch {self.epochs + 1}") as pbar:
                seconds = self.train_epoch(pbar, augment)
            row = {"epoch": self.epochs, "seconds": seconds, **self.last_train}
            if self.val_data is not None:
                row.update({f"val_{k}": v for k, v in self.evaluate().items()})
            history.append(row)
            if log is not None:
                log(epoch_line(row))
        return history

    # ----------------------------------------------------------- inference
    def feedforward(self, X: np.ndarray) -> np.ndarray:
        """Output activations for a batch (n, inputs), by btf.inference's fused steps in memory-bounded chunks."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise DataError(f"input must have shape (n, {self.sizes[0]}), got {X.shape}")
        return costs.output(self.cost, self._inference(X.reshape(len(X), *self.input_shape)))

    def predict(self, x: np.ndarray) -> tuple[Any, np.ndarray]:
        """Label and confidences for one input vector, or labels and (n, outputs) for a batch. Confidences sum
        to 1: softmax's probabilities, or a quadratic network's sigmoid outputs normalised by their sum."""
        x = np.asarray(x, dtype=np.float32)
        single = x.ndim == 1
        out = self.feedforward(x[None, :] if single else x)
        if self.cost != "cross_entropy":  # softmax's rows sum to 1 already
            out /= np.maximum(out.sum(axis=1, keepdims=True), np.float32(1e-30))
        labels = out.argmax(axis=1)
        return (int(labels[0]), out[0]) if single else (labels, out)

    def evaluate(self, data: Data | None = None) -> dict[str, float]:
        """Loss (with weight decay), accuracy and number correct on ``(X, y)`` (default: the fed val data)."""
        if data is None and self.val_data is None:
            raise DataError("no validation data: pass (X, y) or feed(train, val) first")
        X, y = self.val_data if data is None else check_pair(data, self.sizes[0], self.sizes[-1], "evaluation")
        out = self.feedforward(X)
        correct = int((out.argmax(axis=1) == y).sum())
        loss = costs.loss(self.cost, out, costs.one_hot(y, self.sizes[-1])) + costs.penalty(self.l2, self.trainable)
        return {"loss": loss, "accuracy": correct / len(y), "correct": correct}

    def validate(self, data: Data | None = None) -> int:
        """Number of correctly classified samples in ``data`` (default: the fed val data)."""
        return self.evaluate(data)["correct"]

    def accuracy(self, data: Data | None = None) -> float:
        """Fraction correct in ``data`` (default: the fed val data)."""
        return self.evaluate(data)["accuracy"]

    # ---------------------------------------------------------- persistence
    def save(self, path: str | Path | IO[bytes], metadata: dict[str, Any] | None = None) -> None:
        """Write a pickle-free checkpoint (btf.checkpoint), with ``metadata`` added; a path is written atomically."""
        checkpoint.write(path, checkpoint.Checkpoint.of(self, metadata))

    def to_bytes(self, metadata: dict[str, Any] | None = None) -> bytes:
        """What ``save`` writes, as bytes."""
        return checkpoint.dumps(checkpoint.Checkpoint.of(self, metadata))

    @classmethod
    def load(
        cls, source: str | Path | bytes | IO[bytes], limits: Limits | None = None, *, seed: int | None = None
    ) -> Graph:
        """Read and validate a checkpoint (format 1 or 2) from a path, bytes or a binary file object; seed the
        generator that shuffles and drops out with ``seed``. A file that is not a valid checkpoint, or whose
        model is over ``limits`` (default btf.footprint.LIMITS), or that fails to build: CheckpointError."""
        saved = checkpoint.read(source, limits)
        graph = cls.__new__(cls)
        try:
            graph._assemble(saved.layers, saved.input_shape, np.random.default_rng(seed), saved.params, **saved.hyper)
        except Exception as exc:  # the loader's boundary, as in checkpoint.read
            raise CheckpointError(f"<checkpoint>: cannot build the model ({type(exc).__name__}: {exc})") from None
        graph.epochs, graph.metadata = saved.epochs, saved.metadata
        return graph
