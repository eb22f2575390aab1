"""Hidden checks for part 1, `energy(x)`: H = sum_{i<j} 1/|x_i - x_j| + sum_i |x_i|^2."""
import numpy as np
import pytest
from reference_tf import USES

from ml4p.grading.numerics import assert_close, assert_dtype, random_orthogonal
from solutions import coulomb_gas as oracle

USE = USES["energy"]
SHAPES = [(), (3,), (2, 4)]  # leading (batch) dimensions
SIZES = [(5, 2), (4, 3)]  # (n, dim)
#: What a constant or zero energy fails; the checks it passes by itself count only with it.
CORRECT = "test_matches_reference"


def configs(rng, batch, n, dim, dtype=np.float64):
    return rng.normal(size=(*batch, n, dim)).astype(dtype)


@pytest.mark.points(0.25)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("batch", SHAPES, ids=lambda s: f"batch {s}")
def test_matches_reference(student, rng, batch, dtype):
    """energy matches the reference on random configurations"""
    for n, dim in SIZES:
        x = configs(rng, batch, n, dim, dtype)
        e = student.call("energy", x, uses=USE)
        assert_close(e, oracle.energy(x.astype(np.float64)), what=f"energy of a {x.shape} {x.dtype.name} batch",
                     dtype=dtype)


@pytest.mark.points(0.25, given=CORRECT)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_keeps_dtype(student, rng, dtype):
    """energy returns the dtype of its input"""
    x = configs(rng, (2,), 3, 2, dtype)
    assert_dtype(student.call("energy", x, uses=USE), dtype, what="energy")


@pytest.mark.points(0.25)
def test_two_particles(student):
    """two particles at ±1/2 on a line have energy 3/2 (the n = 2 ground state)"""
    x = np.array([[0.5, 0.0], [-0.5, 0.0]])
    assert_close(student.call("energy", x, uses=USE), np.array(1.5), what="energy of two particles at ±1/2")


@pytest.mark.points(0.5, given=CORRECT)
def test_permutation_invariance(student, rng):
    """energy does not change when the particles are relabelled"""
    x = configs(rng, (4,), 6, 2)
    perm = rng.permutation(6)
    assert_close(student.call("energy", x[..., perm, :], uses=USE), student.call("energy", x, uses=USE),
                 what="energy of permuted particles")


@pytest.mark.points(0.25, given=CORRECT)
@pytest.mark.parametrize("dim", [2, 3])
def test_rotation_invariance(student, rng, dim):
    """energy does not change when the whole configuration is rotated"""
    x = configs(rng, (4,), 5, dim)
    q = random_orthogonal(dim, rng)
    assert_close(student.call("energy", x @ q.T, uses=USE), student.call("energy", x, uses=USE),
                 what="energy of a rotated configuration")


@pytest.mark.points(0.25, given=CORRECT)
@pytest.mark.parametrize("dim", [2, 3])
def test_reflection_invariance(student, rng, dim):
    """energy does not change when the whole configuration is mirrored"""
    x = configs(rng, (4,), 5, dim)
    q = random_orthogonal(dim, rng, reflection=True)
    assert_close(student.call("energy", x @ q.T, uses=USE), student.call("energy", x, uses=USE),
                 what="energy of a mirrored configuration")
