"""Leaves the pixels at 0..255: no division by 255.

Also loses `train`: the notebook's `model` is then trained on inputs 255 times
larger than the test images scaled to [0, 1] that the accuracy check gives it
(as part 1 asks), and fails the accuracy check.
"""
LOSES = ("preprocess", "train")


def preprocess(images, labels):
    images = np.asarray(images)
    x = images.reshape(len(images), 28 * 28).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[np.asarray(labels)]
    return x, y
