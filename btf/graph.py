"""btf.Graph: a feed-forward network trained by mini-batch gradient descent, in numpy.

The vocabulary is the original project's: ``Graph(sizes, learning_rate, batch_size)``,
``feed``, ``batchify``, ``run(epochs)``, ``validate``, ``predict``, ``save``, ``load``.

Two forms. ``Graph((784, 30, 10), ...)`` is the original network of dense layers
(btf.dense), whose defaults reproduce it bit for bit (sigmoid everywhere, quadratic cost,
plain SGD); opt in to ``cost="cross_entropy"`` (softmax output), ``activation="relu"``,
``l2`` and ``optimizer="momentum"|"adam"``. ``Graph([Conv2D(...), MaxPool2D(), ...],
input_shape=(28, 28, 1), ...)`` runs a stack of btf.layers (btf.stack). Inputs are always
(n, features) rows in [0, 1]. Everything is float32. Limits: CPU only, data set in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from btf import checkpoint, dense, nn
from btf.data import check_pair
from btf.errors import CheckpointError, ConfigError, DataError
from btf.footprint import Footprint, Limits, of_sizes, rows_per_chunk
from btf.layers import Layer, parse_layers
from btf.optimizers import Optimizer
from btf.progress import progress_bar, summary
from btf.stack import Stack

Data = tuple[np.ndarray, np.ndarray]
Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class Graph:
    """A network of ``sizes`` = (inputs, hidden..., outputs) neurons.

    Initialisation (``init``): the default, ``"scaled"``, draws weights from
    N(0, 1/fan_in) and sets biases to zero. The original ``"normal"`` draws N(0, 1); with 784
    inputs that gives hidden pre-activations with a standard deviation near 28, which pins
    sigmoids at 0 or 1 where their gradient vanishes, so learning stalls (about 87% against
    93% for the original config on the dev data). Keep ``"normal"`` to reproduce the original.
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
        input_shape: Sequence[int] = (28, 28, 1),
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.stack: Stack | None = None
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        if len(sizes) and isinstance(sizes[0], Layer):
            self.stack = Stack(list(sizes), tuple(input_shape), self.rng)
            sizes = (self.stack.inputs, self.stack.outputs)
        self._configure(sizes, learning_rate, batch_size, activation, cost, l2)
        self.optimizer = Optimizer(optimizer, self.learning_rate)
        if self.stack is not None:
            return
        self.weights, self.biases = dense.init_params(self.sizes, init, self.rng)

    def _configure(self, sizes, learning_rate, batch_size, activation, cost, l2) -> None:
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ConfigError(f"sizes needs at least two positive layer sizes, got {sizes}")
        if activation not in nn.ACTIVATIONS:
            raise ConfigError(f"activation must be one of {nn.ACTIVATIONS}, not {activation!r}")
        if cost not in nn.COSTS:
            raise ConfigError(f"cost must be one of {nn.COSTS}, not {cost!r}")
        if not (np.isfinite(learning_rate) and learning_rate > 0):
            raise ConfigError(f"learning_rate must be a positive number, got {learning_rate}")
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        if not (np.isfinite(l2) and l2 >= 0):
            raise ConfigError(f"l2 must be zero or positive, got {l2}")
        self.sizes = sizes
        self.learning_rate = float(learning_rate)
        self.batch_size = int(batch_size)
        self.activation = activation
        self.cost = cost
        self.l2 = float(l2)
        self.epochs = 0
        self.metadata: dict[str, Any] = {}
        self.train_data: Data | None = None
        self.val_data: Data | None = None
        self._train_targets: np.ndarray | None = None

    def set_learning_rate(self, learning_rate: float) -> None:
        """Change the step size between epochs (a schedule); the optimizer's state is kept."""
        if not (np.isfinite(learning_rate) and learning_rate > 0):
            raise ConfigError(f"learning_rate must be a positive number, got {learning_rate}")
        self.learning_rate = float(learning_rate)
        self.optimizer.lr = np.float32(learning_rate)

    def __repr__(self) -> str:
        trained = f", trained {self.epochs} epochs" if self.epochs else ""  # a count so far, not a setting
        if self.stack is not None:
            return (
                f"Graph({self.stack.specs()}, input_shape={self.stack.input_shape}, optimizer={self.optimizer.name!r},"
                f" learning_rate={self.learning_rate}, batch_size={self.batch_size}, cost={self.cost!r},"
                f" l2={self.l2}{trained})"
            )
        return (
            f"Graph({self.sizes}, learning_rate={self.learning_rate}, batch_size={self.batch_size},"
            f" activation={self.activation!r}, cost={self.cost!r}, l2={self.l2}{trained})"
        )

    # ----------------------------------------------------------------- data
    def feed(self, train: Data, val: Data | None = None) -> None:
        """Give the network its training data and, optionally, validation data.

        Each is ``(X, y)``: X of shape (n, inputs) with values in [0, 1], y of n int labels.
        """
        self.train_data = self._check_data(train, "train")
        self.val_data = None if val is None else self._check_data(val, "val")
        self._train_targets = self.one_hot(self.train_data[1])

    def _check_data(self, data: Data, name: str) -> Data:
        return check_pair(data, self.sizes[0], self.sizes[-1], name)

    def one_hot(self, y: np.ndarray) -> np.ndarray:
        return nn.one_hot(y, self.sizes[-1])

    def batchify(self, X: np.ndarray, Y: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Shuffle once (one permutation per epoch) and yield the mini-batches in that order.

        Each batch is gathered straight from the permutation, so every sample is copied once
        per epoch into a batch-sized array, never into a second full copy of the data set.
        """
        order = self.rng.permutation(len(X))
        for start in range(0, len(X), self.batch_size):
            batch = order[start : start + self.batch_size]
            yield X[batch], Y[batch]

    # ------------------------------------------------------------- training
    def _forward_all(self, X: np.ndarray) -> list[np.ndarray]:
        """Activations of every dense layer, input first."""
        return dense.forward_all(self.weights, self.biases, self.activation, self.cost, X)

    def backprop(self, X: np.ndarray, Y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Gradients of the mean cost over the batch (X, one-hot Y), weight decay excluded."""
        return self._gradients(X, Y, 1.0 / len(X))

    def _gradients(self, X: np.ndarray, Y: np.ndarray, scale: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
        acts = self._forward_all(X)
        # The epoch's training loss and accuracy come from these, at no extra pass over the data.
        self._batch_loss = nn.loss(self.cost, acts[-1], Y)
        self._batch_correct = int((acts[-1].argmax(axis=1) == Y.argmax(axis=1)).sum())
        return dense.gradients(self.weights, self.activation, self.cost, acts, Y, scale)

    def _step(self, X: np.ndarray, Y: np.ndarray) -> float:
        """One optimizer update (with L2 decay if set) from one mini-batch; returns the batch's loss before it."""
        if self.stack is not None:
            return self.stack.step(X, Y, self.cost, self.optimizer, self.l2)
        if self.optimizer.name != "sgd":
            grad_w, grad_b = self._gradients(X, Y, 1.0 / len(X))
            params = [p for pair in zip(self.weights, self.biases) for p in pair]
            self.optimizer.update(params, [g for pair in zip(grad_w, grad_b) for g in pair], self.l2)
            return self._batch_loss
        # Plain SGD, the original's: the learning rate is folded into the gradients' scale.
        grad_w, grad_b = self._gradients(X, Y, self.learning_rate / len(X))
        decay = self.learning_rate * self.l2
        for w, b, gw, gb in zip(self.weights, self.biases, grad_w, grad_b):
            if decay:
                gw += decay * w
            w -= gw
            b -= gb
        return self._batch_loss

    def train_epoch(self, progress: Any = None, augment: Augment | None = None) -> float:
        """One pass over the fed training data; returns its wall time in seconds.

        ``augment(X, rng)``, if given, returns a distorted copy of the training inputs that
        this epoch trains on instead (see btf.augment.distort).
        """
        if self.train_data is None or self._train_targets is None:
            raise DataError("no training data: call feed(train, val) first")
        start = time.perf_counter()
        inputs = self.train_data[0] if augment is None else augment(self.train_data[0], self.rng)
        total, correct = 0.0, 0
        for X, Y in self.batchify(inputs, self._train_targets):
            total += self._step(X, Y) * len(X)
            correct += self.stack.batch_correct if self.stack is not None else self._batch_correct
            if progress is not None:
                progress.update(1)
        self.epochs += 1
        # As Keras reports them: means over the mini-batches seen while training, not a second pass.
        self.last_train = {"train_loss": total / len(inputs) + self._penalty(), "train_accuracy": correct / len(inputs)}
        return time.perf_counter() - start

    def run(
        self, epochs: int, *, progress: bool = True, log: Any = print, augment: Augment | None = None
    ) -> list[dict[str, float]]:
        """Train for ``epochs`` epochs; return one dict of figures per epoch.

        Each epoch shows a progress bar (when tqdm is installed and ``progress`` is true) and
        a one-line summary through ``log`` (pass ``None`` for silence).
        """
        if self.train_data is None:
            raise DataError("no training data: call feed(train, val) first")
        bar = progress_bar() if progress else None
        n_batches = -(-len(self.train_data[0]) // self.batch_size)
        history = []
        for _ in range(int(epochs)):
            pbar = bar(total=n_batches, desc=f"epoch {self.epochs + 1}", leave=False) if bar else None
            try:
                seconds = self.train_epoch(pbar, augment)
            finally:
                if pbar is not None:
                    pbar.close()
            row = {"epoch": self.epochs, "seconds": seconds, **self.last_train}
            if self.val_data is not None:
                row.update({f"val_{k}": v for k, v in self._evaluate(*self.val_data).items()})
            history.append(row)
            if log is not None:
                log(summary(row))
        return history

    # ----------------------------------------------------------- inference
    def footprint(self) -> Footprint:
        """What this network costs to hold and to run (parameters; working memory and multiply-adds per image)."""
        return self.stack.footprint if self.stack is not None else of_sizes(self.sizes)

    def feedforward(self, X: np.ndarray) -> np.ndarray:
        """Output activations for a batch (n, inputs), in chunks of rows that fit btf.footprint.WORK_BYTES."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise DataError(f"input must have shape (n, {self.sizes[0]}), got {X.shape}")
        out = np.empty((len(X), self.sizes[-1]), dtype=np.float32)
        rows = rows_per_chunk(self.footprint())
        for start in range(0, len(X), rows):
            chunk = X[start : start + rows]
            out[start : start + rows] = (
                self._forward_all(chunk)[-1] if self.stack is None else self.stack.forward(chunk, self.cost)
            )
        return out

    def predict(self, x: np.ndarray) -> tuple[Any, np.ndarray]:
        """Label and confidences for one input vector, or labels and (n, outputs) for a batch.

        Confidences sum to 1: softmax probabilities for a cross-entropy network, and the
        sigmoid outputs normalised by their sum for a quadratic one.
        """
        x = np.asarray(x, dtype=np.float32)
        single = x.ndim == 1
        out = self.feedforward(x[None, :] if single else x)
        out /= np.maximum(out.sum(axis=1, keepdims=True), np.float32(1e-30))
        labels = out.argmax(axis=1)
        return (int(labels[0]), out[0]) if single else (labels, out)

    def evaluate(self, data: Data) -> dict[str, float]:
        """Loss, accuracy and number correct on ``(X, y)``."""
        return self._evaluate(*self._check_data(data, "evaluation"))

    def _evaluate(self, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
        # For data already checked by feed(): run() scores it every epoch.
        out = self.feedforward(X)
        correct = int((out.argmax(axis=1) == y).sum())
        loss = nn.loss(self.cost, out, self.one_hot(y)) + self._penalty()
        return {"loss": loss, "accuracy": correct / len(y), "correct": correct}

    def _penalty(self) -> float:
        if self.stack is not None:
            return self.stack.penalty(self.l2)
        return 0.5 * self.l2 * sum(float(np.square(w).sum()) for w in self.weights)

    def validate(self, data: Data | None = None) -> int:
        """Number of correctly classified samples in ``data`` (default: the fed val data)."""
        return self._score(data)["correct"]

    def accuracy(self, data: Data | None = None) -> float:
        """Fraction correct in ``data`` (default: the fed val data)."""
        return self._score(data)["accuracy"]

    def _score(self, data: Data | None) -> dict[str, float]:
        if data is None:
            if self.val_data is None:
                raise DataError("no validation data: pass (X, y) or feed(train, val) first")
            return self._evaluate(*self.val_data)
        return self.evaluate(data)

    # ---------------------------------------------------------- persistence
    def save(self, path: str | Path | IO[bytes], metadata: dict[str, Any] | None = None) -> None:
        """Write a pickle-free checkpoint (see btf.checkpoint). A path is written atomically."""
        meta = {**self.metadata, **(metadata or {})}
        checkpoint.write(path, self._params(), meta)

    def to_bytes(self, metadata: dict[str, Any] | None = None) -> bytes:
        meta = {**self.metadata, **(metadata or {})}
        return checkpoint.dumps(self._params(), meta)

    @classmethod
    def load(cls, source: str | Path | bytes | IO[bytes], limits: Limits | None = None) -> Graph:
        """Read and validate a checkpoint from a path, bytes or a binary file object.

        Refuses, with a CheckpointError, a file that is not a valid checkpoint or whose model
        is over ``limits`` (default: btf.footprint.LIMITS). The reader checks every rule that
        building the Graph does; should building still fail, that is a CheckpointError too.
        """
        params = checkpoint.read(source, limits)
        try:
            return cls._from_params(params)
        except Exception as exc:  # the loader's boundary, as in checkpoint.read
            raise CheckpointError(f"<checkpoint>: cannot build the model ({type(exc).__name__}: {exc})") from None

    @classmethod
    def _from_params(cls, params: dict[str, Any]) -> Graph:
        if "layers" in params:
            layers = parse_layers(",".join(params["layers"]), activation=None, flatten=False)
            graph = cls.__new__(cls)
            graph.rng = np.random.default_rng()
            graph.stack = Stack(layers, params["input_shape"], None)  # empty parameters, filled below
            graph.stack.set_params(params["params"])
            graph.weights, graph.biases = [], []
            sizes, activation = params["sizes"], "relu"
        else:
            graph = cls.__new__(cls)
            graph.rng = np.random.default_rng()
            graph.stack = None
            graph.weights, graph.biases = params["weights"], params["biases"]
            sizes, activation = params["sizes"], params["activation"]
        graph._configure(sizes, params["learning_rate"], params["batch_size"], activation, params["cost"], params["l2"])
        graph.optimizer = Optimizer(params.get("optimizer", "sgd"), graph.learning_rate)
        graph.epochs = params["epochs"]
        graph.metadata = params["metadata"]
        return graph

    def _params(self) -> dict[str, Any]:
        common = {
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "cost": self.cost,
            "l2": self.l2,
            "epochs": self.epochs,
        }
        if self.stack is not None:
            return {
                **common,
                "layers": self.stack.specs(),
                "input_shape": self.stack.input_shape,
                "optimizer": self.optimizer.name,
                "params": self.stack.params,
            }
        return {
            **common,
            "sizes": self.sizes,
            "activation": self.activation,
            "weights": self.weights,
            "biases": self.biases,
        }
