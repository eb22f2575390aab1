"""Takes one-sided differences (f(x + eps e_i) - f(x)) / eps: first order in eps."""
LOSES = ("gradient_check",)


def numerical_gradient(f, x, eps=1e-5):
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    f0 = float(f(x))
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (float(f(x + step)) - f0) / eps
    return grad
