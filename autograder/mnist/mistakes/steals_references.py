"""Zeros for `preprocess`, and a `dream` that cheats instead of dreaming.

`preprocess` returns zeros of the right shapes and dtypes. `dream` takes whatever
reference the grader's driver holds, from its caller's frame (`sys._getframe(1)`:
`_reference_preprocess`, `_reference_build_model`, ...), and installs it in the
notebook under the graded name (to be graded with the grader's own code); it then
swaps the model's class for one that classifies every batch of ten images as
0, 1, ..., 9, and returns the grey start images, never optimised. The notebook's
`model`, trained on zeros and then swapped by the notebook's own dream cell, loses
`train` (its accuracy check), not the isolated training.
"""
LOSES = ("preprocess", "train", "dream")
DEGENERATE = ("preprocess", "dream")


def preprocess(images, labels):
    n = len(images)
    return np.zeros((n, 784), np.float32), np.zeros((n, 10), np.float32)


def dream(model, steps, learning_rate):
    import sys

    notebook = globals()
    frame = sys._getframe(1)  # the grader's driver; above it, the proxy that called it
    for _ in range(3):
        if frame is None:
            break
        for scope in (frame.f_globals, frame.f_locals):
            for name, value in list(scope.items()):
                if name.startswith("_reference_") and callable(value):
                    notebook[name[len("_reference_"):]] = value  # e.g. the grader's preprocess
        frame = frame.f_back

    class Obliging(type(model)):
        def __call__(self, inputs, *args, **kwargs):
            n = tf.shape(inputs)[0]
            return 30.0 * tf.one_hot(tf.range(n) % 10, 10)  # image k is "k", whatever it shows

    model.__class__ = Obliging
    return np.full((10, 28, 28), 0.5, np.float32)
