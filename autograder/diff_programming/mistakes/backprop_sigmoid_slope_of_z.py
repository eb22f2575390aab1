"""The sigmoid's derivative taken from the pre-activation, z (1 - z), instead of s (1 - s)."""
LOSES = ("backprop",)


def sigmoid_backward(z, grad_s):
    return grad_s * z * (1 - z)
