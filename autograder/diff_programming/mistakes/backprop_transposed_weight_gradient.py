"""The dense layer's weight gradient transposed: grad_y.T @ x, shaped (n_out, n_in), not x.T @ grad_y."""
LOSES = ("backprop",)


def dense_backward(x, w, grad_y):
    return grad_y @ w.T, grad_y.T @ x, grad_y.sum(axis=0)
