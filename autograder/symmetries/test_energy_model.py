"""Hidden checks for part 2, `energy_model(features, width, depth, dtype)` and `forces(model, x)`.

Graded with the reference `egnn_layer` in place of the student's. A driver builds the
student's model in the kernel, loads weights chosen here into its layers (`blocks`) and
its `readout`, and returns the weights it then holds, its energies and the student's
forces on configurations and their translated, rotated, reflected and permuted images.
Energies and forces are compared here with the NumPy oracle on those weights (forces
with centred differences of the oracle's energy); the symmetries, which a model that
returns zeros has too, count only when energies or forces match.
"""
import numpy as np
import pytest
from reference_tf import DRIVER, MLPS, USES
from symmetry_cases import IMAGES, SYMMETRY_TOLERANCE, images

from ml4p.grading.numerics import assert_close, assert_dtype, directional_gradient_error, fail
from solutions import symmetries as oracle

USE = USES["energy_model"]
FEATURES, WIDTH, DEPTH = 4, 8, 2
BATCH, N, DIM = 3, 5, 3
DTYPES = {"float64": np.float64, "float32": np.float32}
ORACLE_TOLERANCE = {np.dtype(np.float64): (1e-10, 1e-10), np.dtype(np.float32): (1e-4, 1e-4)}
FORCE_TOLERANCE = {np.dtype(np.float64): (1e-7, 1e-7), np.dtype(np.float32): (1e-3, 1e-3)}
ENERGY, FORCES = "test_energy_matches_oracle", "test_forces_match_oracle"


@pytest.fixture(scope="module")
def runs(student):
    """dtype name -> (oracle weights held, the case, energies (K, B), forces (K, B, n, dim), compiled)."""
    out = {}
    for name, dtype in DTYPES.items():
        rng = np.random.default_rng([20260717, len(name)])
        blocks = [oracle.layer_weights(rng, FEATURES, WIDTH) for _ in range(DEPTH)]
        readout = tuple(w.astype(dtype) for w in oracle.readout_weights(rng, FEATURES, WIDTH))
        sent = tuple(tuple(tuple(w.astype(dtype) for w in block[m]) for m in MLPS) for block in blocks)
        case = images(rng, rng.normal(size=(BATCH, N, DIM)))
        held, head, energies, forces, compiled = student.call(
            DRIVER, FEATURES, WIDTH, DEPTH, name, sent, readout, case["xs"].astype(dtype), uses=USE)
        for block_sent, block_held in zip(sent, held):
            for mlp, want, got in zip(MLPS, block_sent, block_held):
                if len(got) != 4 or any(not np.array_equal(g, w) for g, w in zip(got, want)):
                    fail(f"a layer's {mlp} does not keep the weights the grader loaded into it")
        if len(head) != 4 or any(not np.array_equal(g, w) for g, w in zip(head, readout)):
            fail("the readout does not keep the weights the grader loaded into it")
        weights = {"blocks": [dict(zip(MLPS, block)) for block in held], "readout": head}
        out[name] = (weights, case, np.asarray(energies), np.asarray(forces), np.asarray(compiled))
    return out


def _close(actual, expected, tolerance, what):
    rtol, atol = tolerance
    assert_close(np.asarray(actual), expected, what=what, rtol=rtol, atol=atol)


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", DTYPES)
def test_energy_matches_oracle(runs, dtype):
    """the model's energies are those of its layers and readout (float64 to 1e-10; float32 to 1e-4)"""
    weights, case, energies, _, _ = runs[dtype]
    assert_dtype(energies, np.dtype(dtype), what="the energies")
    _close(energies[0], oracle.energy(weights, case["xs"][0], FEATURES), ORACLE_TOLERANCE[np.dtype(dtype)],
           f"the energies of a ({BATCH}, {N}, {DIM}) batch in {dtype}")


@pytest.mark.points(0.5)
@pytest.mark.parametrize("dtype", DTYPES)
def test_forces_match_oracle(runs, dtype):
    """forces(model, x) is -grad E: it matches centred differences of the oracle's energy"""
    weights, case, _, forces, _ = runs[dtype]
    assert_dtype(forces, np.dtype(dtype), what="the forces")
    x = case["xs"][0]
    _close(forces[0], oracle.forces(weights, x, FEATURES), FORCE_TOLERANCE[np.dtype(dtype)],
           f"the forces in {dtype}")
    if dtype == "float64":
        error = directional_gradient_error(lambda y: oracle.energy(weights, y, FEATURES), -forces[0], x,
                                           np.random.default_rng(7))
        if error > 1e-6:
            fail(f"-forces is not the gradient of the energy: relative error {error:.1e} along random "
                 "directions (should be around 1e-9)")


@pytest.mark.points(0.25, given=ENERGY)
@pytest.mark.parametrize("image", IMAGES[1:])
@pytest.mark.parametrize("dtype", DTYPES)
def test_energy_invariance(runs, dtype, image):
    """the energy does not change when the particles are moved, rotated, reflected or renumbered"""
    _, _, energies, _, _ = runs[dtype]
    _close(energies[IMAGES.index(image)], energies[0], SYMMETRY_TOLERANCE[np.dtype(dtype)],
           f"the energies of the {image} configurations")


#: How each symmetry acts on forces (vectors attached to the particles).
FORCE_IMAGE = {
    "translated": lambda f, c: f,
    "rotated": lambda f, c: f @ c["rotation"],
    "reflected": lambda f, c: f @ c["reflection"],
    "permuted": lambda f, c: f[:, c["perm"]],
}


@pytest.mark.points(0.25, given=FORCES)
@pytest.mark.parametrize("image", IMAGES[1:])
@pytest.mark.parametrize("dtype", DTYPES)
def test_force_equivariance(runs, dtype, image):
    """the forces are unchanged by a translation and turn and renumber with the particles"""
    _, case, _, forces, _ = runs[dtype]
    _close(forces[IMAGES.index(image)], FORCE_IMAGE[image](forces[0], case), SYMMETRY_TOLERANCE[np.dtype(dtype)],
           f"the forces of the {image} configurations")


@pytest.mark.points(0.25, given=FORCES)
def test_no_net_force(runs):
    """the forces add up to zero (the energy is translation invariant)"""
    _, _, _, forces, _ = runs["float64"]
    _close(forces[0].sum(axis=1), np.zeros((BATCH, DIM)), (0, 1e-9), "the total force")


@pytest.mark.points(0.25, given=ENERGY)
@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled(runs, dtype):
    """the model gives the same energies eagerly and inside tf.function"""
    _, _, energies, _, compiled = runs[dtype]
    _close(compiled, energies[0], SYMMETRY_TOLERANCE[np.dtype(dtype)], "the energies under tf.function")
