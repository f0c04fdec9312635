"""The float64 references the benchmark checks every peer against must themselves be right:
hand-written gradients against finite differences, and each NumPy peer against its reference.
"""
import numpy as np
import pytest

from benchmarks.harness import max_abs_error, prepare_peer, Budget
from benchmarks.workloads import TIMED, adam, w3_mlp_train, w4_vae_train


def _finite_difference_check(trainer, params, n_probes=12, h=1e-6, seed=0):
    """Compare analytic d loss / d p with central differences at random entries."""
    _, grads = trainer.loss_and_grads(params)
    gen = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(n_probes):
        k = gen.integers(len(params))
        idx = tuple(gen.integers(s) for s in params[k].shape)
        saved = params[k][idx]
        params[k][idx] = saved + h
        up, _ = trainer.loss_and_grads(params)
        params[k][idx] = saved - h
        down, _ = trainer.loss_and_grads(params)
        params[k][idx] = saved
        numeric = (up - down) / (2 * h)
        worst = max(worst, abs(numeric - grads[k][idx]) / max(1e-6, abs(numeric)))
    return worst


def _small_mlp_trainer():
    gen = np.random.default_rng(1)
    params = [gen.standard_normal(s) * 0.5 for s in ((6, 5), (5,), (5, 4), (4,), (4, 3), (3,))]
    x, y = gen.standard_normal((7, 6)), gen.integers(0, 3, 7)
    return w3_mlp_train.NumpyMLPTrainer(params, x, y, np.float64)


def test_mlp_train_gradients_match_finite_differences():
    trainer = _small_mlp_trainer()
    assert _finite_difference_check(trainer, trainer.params, n_probes=30) < 1e-5


def test_vae_gradients_match_finite_differences():
    data = w4_vae_train.make_data()
    trainer = w4_vae_train.NumpyVAETrainer(data["params"], data["x"], data["eps"], np.float64)
    # a gradient that is all ones of the wrong sign or scale would fail on any probe
    assert _finite_difference_check(trainer, trainer.params, n_probes=40) < 1e-4


def test_numpy_adam_is_keras_update():
    p, g = [np.array([1.0, -2.0])], [np.array([0.5, 1e-3])]
    opt = adam.NumpyAdam(p)
    opt.apply(p, g)
    m = 0.1 * g[0]
    v = 0.001 * g[0] ** 2
    step = 1e-3 * np.sqrt(1 - 0.999) / (1 - 0.9)
    np.testing.assert_allclose(p[0], [1.0, -2.0] - step * m / (np.sqrt(v) + 1e-7), rtol=1e-12)


@pytest.mark.parametrize("workload_id", ["W1", "W3", "W4", "W6"])
def test_numpy_peer_matches_reference(workload_id):
    workload = TIMED[workload_id]
    data = workload.make_data()
    row, runner = prepare_peer("numpy", workload.peers["numpy"], data, workload, Budget(),
                               workload.reference(data))
    assert runner is not None, row.message
    assert row.error_ok, f"{workload_id} numpy peer error {row.max_error}"


def test_wrong_answer_is_flagged():
    """A peer that computes something else must fail the tolerance, not pass quietly."""
    workload = TIMED["W6"]
    data = workload.make_data()
    expected = workload.reference(data)
    wrong = expected + 10 * workload.tolerance
    assert max_abs_error(wrong, expected) > workload.tolerance
