"""Turns the copies by random Gaussian matrices instead of orthogonal ones: distances, and
with them the energy the copy is labelled with, change."""
LOSES = ("fit",)


def augment(x, e, copies, seed):
    rng = np.random.default_rng(seed)
    x, e = np.asarray(x), np.asarray(e)
    batch, n, dim = x.shape
    turned = np.empty((copies, batch, n, dim), dtype=x.dtype)
    for k in range(copies):
        for b in range(batch):
            turned[k, b] = x[b, rng.permutation(n)] @ rng.normal(size=(dim, dim))
    return turned.reshape(copies * batch, n, dim), np.tile(e, copies)
