"""Gradient clipping, weight decay, loss scaling and constraints, against NumPy."""
import numpy as np
import pytest

import graphkit as gk

G1 = np.array([3.0, 4.0])        # norm 5
G2 = np.array([[1.0, -2.0], [2.0, 0.5]])


def apply(opt, grads, inits):
    variables = [gk.Variable(np.array(v, float), name=f"v{i}") for i, v in enumerate(inits)]
    opt.apply_gradients(zip([np.asarray(g) for g in grads], variables))
    return [v.numpy() for v in variables]


def test_clipnorm_clips_each_gradient_separately():
    (w1, w2) = apply(gk.optimizers.SGD(1.0, clipnorm=1.0), [G1, G2 * 0.1],
                     [np.zeros(2), np.zeros((2, 2))])
    np.testing.assert_allclose(w1, -G1 / 5.0, rtol=1e-12)
    np.testing.assert_allclose(w2, -G2 * 0.1, rtol=1e-12)  # norm < 1: untouched


def test_clipnorm_with_a_zero_gradient_stays_zero():
    (w,) = apply(gk.optimizers.SGD(1.0, clipnorm=1.0), [np.zeros(2)], [np.ones(2)])
    np.testing.assert_allclose(w, np.ones(2))


def test_global_clipnorm_scales_all_gradients_together():
    norm = np.sqrt(np.sum(G1 ** 2) + np.sum(G2 ** 2))
    (w1, w2) = apply(gk.optimizers.SGD(1.0, global_clipnorm=2.0), [G1, G2],
                     [np.zeros(2), np.zeros((2, 2))])
    np.testing.assert_allclose(w1, -G1 * 2.0 / norm, rtol=1e-7)
    np.testing.assert_allclose(w2, -G2 * 2.0 / norm, rtol=1e-7)


def test_clipvalue():
    (w,) = apply(gk.optimizers.SGD(1.0, clipvalue=1.5), [G2], [np.zeros((2, 2))])
    np.testing.assert_allclose(w, -np.clip(G2, -1.5, 1.5))


def test_weight_decay_on_sgd_and_exclusion_by_name():
    opt = gk.optimizers.SGD(0.5, weight_decay=0.1)
    kernel = gk.Variable(np.array([2.0, -4.0]), name="kernel")
    bias = gk.Variable(np.array([2.0, -4.0]), name="bias")
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply_gradients([(np.ones(2), kernel), (np.ones(2), bias)])
    lr = float(np.float32(0.5))
    np.testing.assert_allclose(kernel.numpy(), [2 - 2 * 0.1 * lr - lr, -4 + 4 * 0.1 * lr - lr])
    np.testing.assert_allclose(bias.numpy(), [2 - lr, -4 - lr])


def test_exclude_from_weight_decay_names_are_regular_expressions():
    opt = gk.optimizers.SGD(0.5, weight_decay=0.1)
    kernel = gk.Variable(np.array([2.0, -4.0]), name="kernel")
    bias = gk.Variable(np.array([2.0, -4.0]), name="bias")
    opt.exclude_from_weight_decay(var_names=["^bias$", "gam+a"])
    opt.apply_gradients([(np.ones(2), kernel), (np.ones(2), bias)])
    lr = float(np.float32(0.5))
    np.testing.assert_allclose(kernel.numpy(), [2 - 2 * 0.1 * lr - lr, -4 + 4 * 0.1 * lr - lr])
    np.testing.assert_allclose(bias.numpy(), [2 - lr, -4 - lr])


def test_loss_scale_factor_unscales_gradients():
    (w,) = apply(gk.optimizers.SGD(1.0, loss_scale_factor=4.0), [G1], [np.zeros(2)])
    np.testing.assert_allclose(w, -G1 / 4.0)
    assert float(gk.optimizers.SGD(loss_scale_factor=4.0).scale_loss(2.0)) == 8.0


def test_constraint_is_applied_after_the_update():
    def clip_to_unit_max_norm(v):
        norm = gk.ops.sqrt(gk.ops.sum(gk.ops.square(v)))
        return gk.ops.divide(v, gk.ops.maximum(norm, 1.0))
    w = gk.Variable(np.array([0.6, 0.0]), name="w", constraint=clip_to_unit_max_norm)
    gk.optimizers.SGD(1.0).apply_gradients([(np.array([-3.0, -4.0]), w)])
    raw = np.array([3.6, 4.0])
    np.testing.assert_allclose(w.numpy(), raw / np.linalg.norm(raw), rtol=1e-12)


def test_stateless_apply_leaves_variables_alone_and_returns_new_values():
    w = gk.Variable(np.array([1.0, 2.0]), name="w")
    opt = gk.optimizers.SGD(0.1, momentum=0.9)
    opt.build([w])
    before = [v.numpy().copy() for v in opt.variables]
    new_w, new_opt = opt.stateless_apply([v.value for v in opt.variables],
                                         [gk.ops.convert_to_tensor(np.ones(2))], [w.value])
    np.testing.assert_allclose(w.numpy(), [1.0, 2.0])
    for v, b in zip(opt.variables, before):
        np.testing.assert_array_equal(v.numpy(), b)
    lr = float(np.float32(0.1))
    np.testing.assert_allclose(np.asarray(new_w[0]), [1 - lr, 2 - lr])
    assert int(np.asarray(new_opt[0])) == 1  # iterations
    np.testing.assert_allclose(np.asarray(new_opt[2]), [-lr, -lr])  # momentum slot
    with pytest.raises(ValueError, match="must match optimizer.variables"):
        opt.stateless_apply([], [np.ones(2)], [w.value])
