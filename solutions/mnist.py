"""Oracle for the MNIST assignment: plain NumPy, float64, loops where they are clearer.

Instructor-only. This is the *independent* reference the hidden checks compare
the students' TensorFlow code against, so it is written to be obviously right,
not fast. Importing it does no computation.

The model: a multilayer perceptron 784-128-64-10 with ReLU hidden layers that
outputs logits z; the probabilities are softmax(z), the loss the mean over the
batch of the cross-entropy -sum_j y_j log softmax(z)_j against one-hot labels y.

Public API
----------
preprocess(images, labels)            (x (N, 784) in [0, 1], y (N, 10) one-hot), float64
softmax(logits), log_softmax(logits)  row by row, stable
cross_entropy(logits, labels)         mean over the batch, stable (log-sum-exp)
cross_entropy_gradient(logits, labels)  d cross_entropy / d logits = (softmax - y) / N
count_params(layers)                  weights + biases of a dense network
accuracy(logits, labels)              fraction of argmax(logits) equal to the labels
dense_layers(arrays)                  a model's weight arrays as (kernel, bias) pairs, or None
mlp_logits(weights, x)                forward pass of Dense-ReLU-...-Dense (the notebook's MLP)
init_mlp(rng), train_mlp(x, y, ...)   the MLP as Keras initialises it, trained by Adam (backprop
                                      by hand): a reference classifier made in the trusted process
PUBLISHED_TEST_ERRORS                 fully connected networks on MNIST, from the literature
REFERENCE_ACCURACY                    what the notebook's solution reaches, measured

What an MLP of this size reaches
--------------------------------
LeCun, Bottou, Bengio & Haffner, Proc. IEEE 86, 2278 (1998), Fig. 9 and the
table on LeCun's MNIST page (yann.lecun.com/exdb/mnist): fully connected nets
without preprocessing or distortions reach a test error of 3.05 % (300+100
hidden units) and 2.95 % (500+150); trained with a mean-squared-error loss and
1990s optimisation. Simard, Steinkraus & Platt, ICDAR 2003: 1.6 % with 800
hidden units and the cross-entropy loss. The notebook's 784-128-64-10 network
(109,386 parameters), trained with Adam and the cross-entropy for 10 epochs
(batches of 128, learning rate decaying from 2e-3 to 0 along a cosine), sits in
between: 98.05-98.33 % test accuracy over seeds 0-4 (error 1.7-1.95 %; the
notebook, seed 0, 98.05 %); with a constant learning rate of 1e-3, 97.63-97.98 %.
The hidden check asks for 97.5 %.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = [
    "N_CLASSES",
    "N_PIXELS",
    "LAYERS",
    "preprocess",
    "softmax",
    "log_softmax",
    "cross_entropy",
    "cross_entropy_gradient",
    "count_params",
    "accuracy",
    "dense_layers",
    "mlp_logits",
    "init_mlp",
    "mlp_gradients",
    "train_mlp",
    "PUBLISHED_TEST_ERRORS",
    "REFERENCE_ACCURACY",
]

N_CLASSES = 10
N_PIXELS = 28 * 28
LAYERS = (N_PIXELS, 128, 64, N_CLASSES)  # the notebook's MLP, input to output

#: Test error rates (%) of fully connected networks on MNIST, no preprocessing, no distortions.
PUBLISHED_TEST_ERRORS: dict[str, tuple[float, str]] = {
    "3-layer NN, 300+100 hidden units": (3.05, "LeCun et al. 1998"),
    "3-layer NN, 500+150 hidden units": (2.95, "LeCun et al. 1998"),
    "2-layer NN, 800 hidden units, cross-entropy": (1.6, "Simard et al. 2003"),
}

#: Test accuracy of the notebook's solution (10 epochs, batch 128, Adam with a cosine decay
#: from 2e-3 to 0), keyed by the data set's `name`: (lowest, highest) over seeds 0-4 on a
#: 2-core CPU; the notebook itself uses seed 0 (MNIST 0.9805, stand-in 0.9930). The stand-in
#: is easier than MNIST (printed fonts, not handwriting).
REFERENCE_ACCURACY: dict[str, tuple[float, float]] = {
    "MNIST": (0.9805, 0.9833),
    "ml4p synthetic digits (a stand-in, not MNIST)": (0.9930, 0.9955),
}


def preprocess(images, labels) -> tuple[np.ndarray, np.ndarray]:
    """Flatten and scale the images, one-hot encode the labels.

    images: (N, 28, 28) uint8, 0..255; labels: (N,) integers 0..9.
    Returns x (N, 784) float64 in [0, 1] (pixel / 255, row by row) and
    y (N, 10) float64 with y[i, labels[i]] = 1 and 0 elsewhere.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    n = images.shape[0]
    x = np.empty((n, N_PIXELS))
    y = np.zeros((n, N_CLASSES))
    for i in range(n):
        x[i] = images[i].reshape(-1) / 255.0
        y[i, int(labels[i])] = 1.0
    return x, y


def log_softmax(logits) -> np.ndarray:
    """log softmax(z)_j = z_j - log sum_k exp(z_k), via the log-sum-exp with the row maximum
    subtracted (no overflow for large z, no log 0 for very negative z).

    logits: (N, C) -> (N, C) float64.
    """
    z = np.asarray(logits, dtype=np.float64)
    out = np.empty_like(z)
    for i in range(z.shape[0]):
        m = np.max(z[i])
        out[i] = z[i] - (m + math.log(np.sum(np.exp(z[i] - m))))
    return out


def softmax(logits) -> np.ndarray:
    """softmax(z)_j = exp(z_j) / sum_k exp(z_k), row by row. (N, C) -> (N, C) float64."""
    return np.exp(log_softmax(logits))


def cross_entropy(logits, labels) -> float:
    """(1/N) sum_i [ -sum_j y_ij log softmax(z_i)_j ]: summed over the classes, averaged over
    the batch, so a batch and the same batch twice have the same loss.

    logits: (N, C); labels: (N, C), rows are probability vectors (one-hot). Returns a float.
    """
    y = np.asarray(labels, dtype=np.float64)
    log_p = log_softmax(logits)
    n = log_p.shape[0]
    total = 0.0
    for i in range(n):
        total += -np.sum(y[i] * log_p[i])
    return total / n


def cross_entropy_gradient(logits, labels) -> np.ndarray:
    """d cross_entropy / d z_ij = (softmax(z_i)_j - y_ij) / N, written out.

    For one row, d/dz_j [-sum_k y_k (z_k - log sum_l e^{z_l})] = -y_j + softmax(z)_j sum_k y_k,
    and sum_k y_k = 1; the batch mean brings the 1/N. (N, C) -> (N, C) float64.
    """
    y = np.asarray(labels, dtype=np.float64)
    return (softmax(logits) - y) / y.shape[0]


def count_params(layers=LAYERS) -> int:
    """Parameters of dense layers of the given widths: n_in * n_out weights + n_out biases each."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(layers[:-1], layers[1:]))


def accuracy(logits, labels) -> float:
    """Fraction of rows whose largest logit is the label.

    logits: (N, C); labels: (N,) integers, or (N, C) one-hot.
    """
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = np.argmax(labels, axis=-1)
    return float(np.mean(np.argmax(logits, axis=-1) == labels))


def dense_layers(arrays) -> list[tuple[np.ndarray, np.ndarray | None]] | None:
    """A model's weight arrays (Keras's `get_weights()` order) as dense layers, input to output.

    Each layer is a kernel (n_in, n_out), followed by its bias (n_out,) if it has one; the
    layers must chain (each n_in the previous n_out). Returns [(kernel, bias or None), ...],
    or None if the arrays are not those of a stack of dense layers.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    layers, i = [], 0
    while i < len(arrays):
        kernel = arrays[i]
        if kernel.ndim != 2 or (layers and kernel.shape[0] != layers[-1][0].shape[1]):
            return None
        bias = None
        if i + 1 < len(arrays) and arrays[i + 1].shape == (kernel.shape[1],):
            bias = arrays[i + 1]
            i += 1
        layers.append((kernel, bias))
        i += 1
    return layers or None


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


def mlp_logits(weights, x, activation=_relu) -> np.ndarray:
    """Logits of a stack of dense layers: h = activation(h W + b) on every hidden layer, and
    z = h W + b (no activation) on the last. The notebook's MLP with the default ReLU.

    weights: weight arrays as `dense_layers` reads them (Keras's `get_weights()`), or its
    [(kernel, bias), ...]; x: (N, n_in). Returns (N, n_out) float64.
    """
    layers = weights if weights and isinstance(weights[0], tuple) else dense_layers(weights)
    if layers is None:
        raise ValueError("not the weights of a stack of dense layers")
    h = np.asarray(x, dtype=np.float64)
    for k, (kernel, bias) in enumerate(layers):
        h = h @ kernel + (0.0 if bias is None else bias)
        if k < len(layers) - 1:
            h = activation(h)
    return h


def init_mlp(rng: np.random.Generator, layers=LAYERS) -> list[np.ndarray]:
    """Fresh weights as Keras's Dense initialises them: kernels Glorot-uniform, in
    +-sqrt(6 / (n_in + n_out)), biases 0. Returns [W1, b1, W2, b2, ...] float64."""
    weights = []
    for n_in, n_out in zip(layers[:-1], layers[1:]):
        limit = math.sqrt(6.0 / (n_in + n_out))
        weights += [rng.uniform(-limit, limit, size=(n_in, n_out)), np.zeros(n_out)]
    return weights


def mlp_gradients(weights, x, y) -> list[np.ndarray]:
    """Gradient of cross_entropy(mlp_logits(weights, x), y) with respect to every weight array,
    by backpropagation written out (ReLU hidden layers). Returns arrays shaped like `weights`."""
    layers = dense_layers(weights)
    inputs, pre = [], []  # per layer: its input h and its pre-activation a = h W + b
    h = np.asarray(x, dtype=np.float64)
    for k, (kernel, bias) in enumerate(layers):
        inputs.append(h)
        a = h @ kernel + bias
        pre.append(a)
        h = _relu(a) if k < len(layers) - 1 else a
    delta = cross_entropy_gradient(h, y)  # d L / d logits, (N, 10)
    grads = []
    for k in reversed(range(len(layers))):
        kernel = layers[k][0]
        grads = [inputs[k].T @ delta, delta.sum(axis=0)] + grads
        if k > 0:
            delta = (delta @ kernel.T) * (pre[k - 1] > 0)  # through the ReLU of the layer below
    return grads


def train_mlp(x, y, *, epochs=2, batch_size=64, learning_rate=1e-3, seed=0) -> list[np.ndarray]:
    """The notebook's MLP, initialised as Keras does and trained by Adam (Keras's defaults:
    beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7) on minibatches, reshuffled every epoch.
    Deterministic for a given seed. x: (N, 784) in [0, 1]; y: (N, 10) one-hot.
    Returns the weights [W1, b1, W2, b2, W3, b3] as float32, as a Keras model holds them.
    """
    rng = np.random.default_rng(seed)
    weights = init_mlp(rng)
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    beta1, beta2, eps, t = 0.9, 0.999, 1e-7, 0
    n = len(x)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            grads = mlp_gradients(weights, x[batch], y[batch])
            t += 1
            step = learning_rate * math.sqrt(1 - beta2**t) / (1 - beta1**t)
            for w, g, mw, vw in zip(weights, grads, m, v):
                mw += (1 - beta1) * (g - mw)
                vw += (1 - beta2) * (g * g - vw)
                w -= step * mw / (np.sqrt(vw) + eps)
    return [w.astype(np.float32) for w in weights]


if __name__ == "__main__":
    print(f"{count_params():,} parameters in the {'-'.join(map(str, LAYERS))} MLP")
