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

Part 2, through an eigensolver (v: (n,) potential on a grid of spacing dx, hard walls, hbar = m = 1):
hamiltonian(v, dx)                           the (n, n) three-point matrix, element by element
ground_state(v, dx)                          (E_0, rho = psi_0^2 / dx) by np.linalg.eigh
box_levels, box_ground_density,              exact answers: particle in a box of length (n + 1) dx,
harmonic_levels, harmonic_ground_density     harmonic oscillator
density_loss(v, target, dx)                  sum |rho - target| dx
density_vjp(v, dx, u)                        sum_x u(x) d rho(x) / d v, perturbation theory state by state
density_loss_gradient(v, target, dx)         d density_loss / d v from density_vjp
triangle_problem(n, centre, half_width)      the course's inverse problem: (x, dx, target, v0)

Part 3, a CNOT gate by optimal control (u (N, K) float64, h0 (d, d), hk (K, d, d) Hermitian):
propagator(u, dt, h0, hk)                    exp(-i dt H_N) ... exp(-i dt H_1), H_j = h0 + sum_k u[j, k] hk[k]
infidelity(u, dt, h0, hk)                    1 - |Tr(CNOT^dagger U)|^2 / d^2
infidelity_gradient(u, dt, h0, hk)           its gradient, written out (no autodiff)
infidelity_hessian(u, dt, h0, hk)            (N K, N K), index j K + k, centred differences of the gradient
optimal_controls(u0, dt, h0, hk)             a zero of the infidelity near u0 (SciPy's BFGS)
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


# ------------------------------------------------------------------ ground_state

#: Units: hbar = m = 1. A grid of n points x_0 < ... < x_{n-1} with spacing dx; the wave
#: function vanishes at the two points just outside (hard walls), so the box has length
#: L = (n + 1) dx.


def hamiltonian(v, dx):
    """H = -1/2 d^2/dx^2 (three-point differences, hard walls) + diag(v), (n, n) float64."""
    v = np.asarray(v, dtype=np.float64)
    n = len(v)
    h = np.zeros((n, n))
    for i in range(n):
        h[i, i] = 1.0 / dx**2 + v[i]
        if i + 1 < n:
            h[i, i + 1] = h[i + 1, i] = -0.5 / dx**2
    return h


def ground_state(v, dx):
    """(E_0, rho): the lowest eigenvalue and rho = psi_0^2 / dx, psi_0 its unit eigenvector,
    so that sum(rho) * dx = 1."""
    e, psi = np.linalg.eigh(hamiltonian(v, dx))
    return float(e[0]), psi[:, 0] ** 2 / dx


def box_levels(n, dx, count):
    """E_k = (k pi)^2 / (2 L^2), k = 1..count: the continuum box of length L = (n + 1) dx."""
    length = (n + 1) * dx
    return np.array([(k * np.pi) ** 2 / (2 * length**2) for k in range(1, count + 1)])


def box_ground_density(n, dx):
    """rho(x_j) = (2 / L) sin^2(pi (j + 1) / (n + 1)): the continuum box's ground state on the grid."""
    length = (n + 1) * dx
    j = np.arange(n)
    return 2 / length * np.sin(np.pi * (j + 1) / (n + 1)) ** 2


def harmonic_levels(omega, count):
    """E_k = (k + 1/2) omega, k = 0..count-1."""
    return (np.arange(count) + 0.5) * omega


def harmonic_ground_density(x, omega):
    """rho(x) = sqrt(omega / pi) exp(-omega x^2)."""
    return np.sqrt(omega / np.pi) * np.exp(-omega * np.asarray(x) ** 2)


# ------------------------------------------------------------------ inverse_problem

def density_loss(v, target, dx):
    """dx * sum |rho - target|: the L1 distance of the ground-state density from the target
    (the course notebook's sum |psi_0^2 - phi^2| for unit vectors psi_0 and phi)."""
    return float(dx * np.sum(np.abs(ground_state(v, dx)[1] - np.asarray(target))))


def density_vjp(v, dx, u):
    """sum_x u(x) d rho(x) / d v(y), written out from first-order perturbation theory, state by
    state: d psi_0 / d v(y) = sum_{k > 0} psi_k psi_k(y) psi_0(y) / (E_0 - E_k), rho = psi_0^2 / dx."""
    e, psi = np.linalg.eigh(hamiltonian(v, dx))
    u = np.asarray(u, dtype=np.float64)
    g = np.zeros(len(e))
    for k in range(1, len(e)):
        overlap = np.sum(u * psi[:, 0] * psi[:, k])
        g += 2 / dx * overlap / (e[0] - e[k]) * psi[:, k] * psi[:, 0]
    return g


def density_loss_gradient(v, target, dx):
    """d density_loss / d v (where no rho(x) equals target(x) exactly)."""
    rho = ground_state(v, dx)[1]
    return density_vjp(v, dx, dx * np.sign(rho - np.asarray(target)))


def triangle_problem(n, centre=0.0, half_width=0.5):
    """The course notebook's inverse problem on n points: (x, dx, target density, start v0).

    x: n points on [-1, 1) (the end point left out), dx = 2 / n; the target wave function is
    the triangle 1 - |x - centre| / (2 half_width) where |x - centre| < half_width, 0
    elsewhere (the course's: centre 0, half-width 1/2); the target density is its square,
    normalised to sum * dx = 1; the start is the harmonic potential v0 = x^2 / 2.
    """
    x = np.linspace(-1.0, 1.0, n, endpoint=False)
    dx = 2.0 / n
    distance = np.abs(x - centre)
    phi = np.where(distance < half_width, 1.0 - distance / (2 * half_width), 0.0)
    target = phi**2 / (np.sum(phi**2) * dx)
    return x, dx, target, 0.5 * x**2


# ------------------------------------------------------------------ optimal_control

#: The CNOT gate, first qubit the control, basis |q1 q2> = |00>, |01>, |10>, |11>.
CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=np.complex128)
_PAULI = {"I": np.eye(2), "X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]]),
          "Z": np.diag([1.0, -1.0])}


def pauli(word: str) -> np.ndarray:
    """The two-qubit Pauli operator of a two-letter word, e.g. "ZZ" or "XI" (4 x 4, complex128)."""
    return np.kron(_PAULI[word[0]], _PAULI[word[1]]).astype(np.complex128)


#: The notebook's system: exchange-coupled qubits, ZZ drift, X and Y drives on each qubit.
COUPLING = 1.0
H0 = COUPLING / 2 * pauli("ZZ")
HK = np.stack([pauli(w) for w in ("XI", "YI", "IX", "IY")])


def _slice_hamiltonians(u, h0, hk):
    """H_j = h0 + sum_k u[j, k] hk[k] for each slice j: (N, d, d)."""
    u = np.asarray(u, dtype=np.float64)
    return np.asarray(h0)[None] + np.einsum("jk,kab->jab", u, np.asarray(hk))


def _eigh(h):
    """Eigenvalues and eigenvectors of a Hermitian matrix (symmetrised against round-off)."""
    return np.linalg.eigh((h + h.conj().T) / 2)


def slice_propagators(u, dt, h0=H0, hk=HK):
    """exp(-i dt H_j) for each slice, by diagonalising the Hermitian H_j: (N, d, d)."""
    out = []
    for h in _slice_hamiltonians(u, h0, hk):
        w, v = _eigh(h)
        out.append((v * np.exp(-1j * dt * w)) @ v.conj().T)
    return np.array(out)


def propagator(u, dt, h0=H0, hk=HK):
    """U = exp(-i dt H_N) ... exp(-i dt H_1): the first slice acts first, so it stands on the right."""
    d = np.shape(h0)[0]
    total = np.eye(d, dtype=np.complex128)
    for step in slice_propagators(u, dt, h0, hk):
        total = step @ total
    return total


def infidelity(u, dt, h0=H0, hk=HK, target=CNOT):
    """1 - |Tr(target^dagger U)|^2 / d^2: zero exactly when U is the target up to a global phase."""
    d = np.shape(h0)[0]
    overlap = np.trace(np.asarray(target).conj().T @ propagator(u, dt, h0, hk))
    return float(1 - abs(overlap) ** 2 / d**2)


def infidelity_gradient(u, dt, h0=H0, hk=HK, target=CNOT):
    """d infidelity / d u[j, k], (N, K), written out (no autodiff): the derivative of each slice's
    exponential in the eigenbasis of H_j (the divided differences of exp(-i dt lambda)), placed
    between the propagators before and after that slice."""
    u = np.asarray(u, dtype=np.float64)
    hk = np.asarray(hk)
    d = np.shape(h0)[0]
    steps = slice_propagators(u, dt, h0, hk)
    n = len(steps)
    before = [np.eye(d, dtype=np.complex128)]  # before[j] = U_{j-1} ... U_1
    for step in steps:
        before.append(step @ before[-1])
    after = [np.eye(d, dtype=np.complex128)] * n  # after[j] = U_N ... U_{j+1}
    acc = np.eye(d, dtype=np.complex128)
    for j in range(n - 1, -1, -1):
        after[j] = acc
        acc = acc @ steps[j]
    target_h = np.asarray(target).conj().T
    overlap = np.trace(target_h @ before[n])
    grad = np.zeros(u.shape)
    for j, h in enumerate(_slice_hamiltonians(u, h0, hk)):
        w, v = _eigh(h)
        phases = np.exp(-1j * dt * w)
        gap = w[:, None] - w[None, :]
        same = np.abs(gap) < 1e-12
        divided = np.where(same, -1j * dt * phases[:, None],
                           (phases[:, None] - phases[None, :]) / np.where(same, 1.0, gap))
        outer = before[j] @ target_h @ after[j]  # Tr(C^dag L dU R) = Tr(R C^dag L dU)
        for k in range(hk.shape[0]):
            d_step = v @ (divided * (v.conj().T @ hk[k] @ v)) @ v.conj().T
            grad[j, k] = -2 / d**2 * np.real(np.conj(overlap) * np.trace(outer @ d_step))
    return grad


def infidelity_hessian(u, dt, h0=H0, hk=HK, target=CNOT, h=1e-5):
    """The (N K) x (N K) Hessian, index j K + k, by centred differences of the written-out gradient."""
    u = np.asarray(u, dtype=np.float64)
    m = u.size
    out = np.zeros((m, m))
    for i in range(m):
        e = np.zeros(m)
        e[i] = h
        e = e.reshape(u.shape)
        out[:, i] = ((infidelity_gradient(u + e, dt, h0, hk, target)
                      - infidelity_gradient(u - e, dt, h0, hk, target)) / (2 * h)).ravel()
    return out


def optimal_controls(u0, dt, h0=H0, hk=HK, target=CNOT, tol=1e-13):
    """Controls near u0 that minimise the infidelity (BFGS on the written-out gradient)."""
    from scipy.optimize import minimize

    u0 = np.asarray(u0, dtype=np.float64)
    result = minimize(lambda x: infidelity(x.reshape(u0.shape), dt, h0, hk, target), u0.ravel(),
                      jac=lambda x: infidelity_gradient(x.reshape(u0.shape), dt, h0, hk, target).ravel(),
                      method="BFGS", options={"gtol": tol, "maxiter": 5000})
    return result.x.reshape(u0.shape)
