"""Oracle for the differentiable-programming assignment: plain NumPy, float64.

Instructor-only: the independent reference the hidden checks compare the students'
TensorFlow code against, written to be obviously right, not fast. Importing it does
no computation.

Public API
----------
Part 1, reverse mode by hand (arrays are float64; x (N, n_in), w (n_in, n_out), b (n_out,)):
dense_forward(x, w, b)                       y = x w + b, element by element
dense_backward(x, w, grad_y)                 (grad_x, grad_w, grad_b), the chain rule by loops
sigmoid_forward(z), sigmoid_backward(z, g)   s = 1 / (1 + e^-z) and g s (1 - s)
mse_forward(pred, t), mse_backward(pred, t)  the mean of (pred - t)^2 over all elements, its gradient
network_loss_and_gradients(params, x, t)     loss and (gw1, gb1, gw2, gb2) of
                                             sigmoid(x w1 + b1) w2 + b2, params = (w1, b1, w2, b2)
"""
from __future__ import annotations

import numpy as np

# ------------------------------------------------------------------ backprop

# Part 1, reverse mode by hand. Shapes: x (N, n_in), w (n_in, n_out), b (n_out,),
# y = x @ w + b (N, n_out). The loss is the mean over ALL N * n_out elements:
#     L = (1 / (N n_out)) sum_{n, j} (pred_nj - target_nj)^2.
# The two-layer network: pred = sigmoid(x @ w1 + b1) @ w2 + b2, params = (w1, b1, w2, b2).
# Everything below is written element by element (loops), independently of any matmul
# identity, so a transposed product cannot agree with it by accident.


def _f64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def dense_forward(x, w, b):
    """y_nj = sum_i x_ni w_ij + b_j."""
    x, w, b = _f64(x, w, b)
    y = np.zeros((x.shape[0], w.shape[1]))
    for n in range(x.shape[0]):
        for j in range(w.shape[1]):
            y[n, j] = b[j] + sum(x[n, i] * w[i, j] for i in range(w.shape[0]))
    return y


def dense_backward(x, w, grad_y):
    """(dL/dx, dL/dw, dL/db) from dL/dy: the chain rule through y_nj = sum_i x_ni w_ij + b_j."""
    x, w, g = _f64(x, w, grad_y)
    grad_x = np.zeros(x.shape)
    grad_w = np.zeros(w.shape)
    grad_b = np.zeros(w.shape[1])
    for n in range(x.shape[0]):
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                grad_x[n, i] += g[n, j] * w[i, j]   # dy_nj / dx_ni = w_ij
                grad_w[i, j] += g[n, j] * x[n, i]   # dy_nj / dw_ij = x_ni
        grad_b += g[n]                              # dy_nj / db_j = 1
    return grad_x, grad_w, grad_b


def sigmoid_forward(z):
    """1 / (1 + exp(-z)), without overflow for large |z|."""
    (z,) = _f64(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_backward(z, grad_s):
    """dL/dz = dL/ds * s (1 - s), s = sigmoid(z): z is the pre-activation (the layer's input)."""
    z, g = _f64(z, grad_s)
    s = sigmoid_forward(z)
    return g * s * (1 - s)


def mse_forward(pred, target):
    """The mean over all elements of (pred - target)^2: a float."""
    pred, target = _f64(pred, target)
    return float(np.sum((pred - target) ** 2) / pred.size)


def mse_backward(pred, target):
    """dL/dpred = 2 (pred - target) / (number of elements)."""
    pred, target = _f64(pred, target)
    return 2 * (pred - target) / pred.size


def network_predict(params, x):
    """sigmoid(x @ w1 + b1) @ w2 + b2."""
    w1, b1, w2, b2 = params
    return dense_forward(sigmoid_forward(dense_forward(x, w1, b1)), w2, b2)


def network_loss(params, x, target):
    """The mean squared error of the two-layer network: a float."""
    return mse_forward(network_predict(params, x), target)


def network_loss_and_gradients(params, x, target):
    """(loss, (dL/dw1, dL/db1, dL/dw2, dL/db2)), by the chain rule layer by layer."""
    w1, b1, w2, b2 = _f64(*params)
    (x,) = _f64(x)
    z = dense_forward(x, w1, b1)
    h = sigmoid_forward(z)
    pred = dense_forward(h, w2, b2)
    grad_h, gw2, gb2 = dense_backward(h, w2, mse_backward(pred, target))
    _, gw1, gb1 = dense_backward(x, w1, sigmoid_backward(z, grad_h))
    return mse_forward(pred, target), (gw1, gb1, gw2, gb2)
