"""A float64 port of the original network.py's training loop: the oracle for the seed form.

Nielsen's ``Network.update_mini_batch`` backpropagates one sample at a time, sums the
gradients and steps ``w - (eta / m) * nabla_w``. This port keeps that per-sample loop, in
float64, with the original's (n_out, n_in) weight layout, so it shares no code, no layout and
no precision with btf. Two opt-ins match btf's: ``relu`` hidden layers, and the
cross-entropy cost with a softmax output (delta = a - y); ``l2`` is coupled weight decay on
weights only, ``w -= eta * (nabla_w / m + l2 * w)``.

Given btf's initial weights and its shuffle order, it must end where btf ends, to float32's
precision.
"""

import numpy as np


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _hidden(activation, z):
    return np.maximum(z, 0.0) if activation == "relu" else _sigmoid(z)


def _hidden_prime(activation, z):
    return (z > 0).astype(np.float64) if activation == "relu" else _sigmoid(z) * (1 - _sigmoid(z))


def _backprop(weights, biases, x, y, activation, cost):
    """One sample's gradients, exactly as network.py's backprop walks them."""
    a, zs, acts = x, [], [x]
    for i, (w, b) in enumerate(zip(weights, biases)):
        z = w @ a + b
        zs.append(z)
        if i < len(weights) - 1:
            a = _hidden(activation, z)
        elif cost == "cross_entropy":
            e = np.exp(z - z.max())
            a = e / e.sum()
        else:
            a = _sigmoid(z)
        acts.append(a)
    delta = acts[-1] - y
    if cost == "quadratic":
        delta = delta * _sigmoid(zs[-1]) * (1 - _sigmoid(zs[-1]))
    nabla_w, nabla_b = [None] * len(weights), [None] * len(weights)
    for i in range(len(weights) - 1, -1, -1):
        nabla_w[i] = np.outer(delta, acts[i])
        nabla_b[i] = delta
        if i > 0:
            delta = (weights[i].T @ delta) * _hidden_prime(activation, zs[i - 1])
    return nabla_w, nabla_b


def train(weights, biases, X, Y, orders, batch_size, eta, *, activation="sigmoid", cost="quadratic", l2=0.0):
    """Weights and biases (btf's (n_in, n_out) layout) after one epoch per permutation in ``orders``."""
    weights = [np.asarray(w, np.float64).T.copy() for w in weights]
    biases = [np.asarray(b, np.float64).copy() for b in biases]
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    for order in orders:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            sum_w = [np.zeros_like(w) for w in weights]
            sum_b = [np.zeros_like(b) for b in biases]
            for k in batch:
                nw, nb = _backprop(weights, biases, X[k], Y[k], activation, cost)
                sum_w = [s + n for s, n in zip(sum_w, nw)]
                sum_b = [s + n for s, n in zip(sum_b, nb)]
            m = len(batch)
            weights = [w - eta * (s / m + l2 * w) for w, s in zip(weights, sum_w)]
            biases = [b - (eta / m) * s for b, s in zip(biases, sum_b)]
    return [w.T for w in weights], biases
