"""Parity sweep over every built-in layer: `gk.debugging.compare` (eager vs compiled) of the
forward pass (with the variables it updates) and of the gradient with respect to the
inputs and every trainable weight, within the bound in parity_cases.LAYER_CASES.

Exporting a layer class without a case fails `test_every_exported_layer_has_a_case`.
"""
import numpy as np
import pytest

from graphkit import layers

from tests.debugging.parity_cases import (EAGER_ONLY, EXACT, GRAD_NORM, LAYER_CASES,
                                          NOT_LAYERS, assert_outcome, built_layer,
                                          gradient_scale, layer_case, layer_case_ids,
                                          layer_outcomes)

GRAD_IDS = [cid for cid in layer_case_ids() if layer_case(cid).grad]


def test_every_exported_layer_has_a_case():
    exported = [n for n in layers.__all__ if isinstance(getattr(layers, n), type) and
                n not in layers.ALIASES]  # a second name of a class with a case
    missing = sorted(n for n in exported if n not in LAYER_CASES and n not in NOT_LAYERS
                     and n not in EAGER_ONLY)
    assert not missing, f"exported layers without a parity case in LAYER_CASES: {missing}"


@pytest.mark.parametrize("name", sorted(EAGER_ONLY))
def test_eager_only_layer_refuses_to_compile(name):
    """An eager-only layer has no compiled twin: compiling it must fail saying so."""
    import graphkit as gk
    from graphkit.ir.tracer import TracerError
    layer = EAGER_ONLY[name][0]()
    x = gk.ops.convert_to_tensor(np.array([[1, 3, 5]], np.int64))
    layer(x)  # eagerly it works
    with pytest.raises(TracerError, match=rf"{name} '.*run eagerly.*cannot be compiled"):
        gk.jit(lambda t: layer(t))(x)


@pytest.mark.parametrize("case_id", layer_case_ids())
def test_layer_forward_parity(case_id):
    case = layer_case(case_id)
    outcome = layer_outcomes(case.group, "forward")[case_id]
    assert_outcome(outcome, case.bound, f"{case_id} forward")


@pytest.mark.parametrize("case_id", GRAD_IDS)
def test_layer_gradient_parity(case_id):
    case = layer_case(case_id)
    outcome = layer_outcomes(case.group, "grad")[case_id]
    # Dropout's gradient is its mask times the cotangent: bit-identical too.
    assert_outcome(outcome, EXACT if case_id.startswith("Dropout") else GRAD_NORM,
                    f"{case_id} gradient", scale=gradient_scale(outcome.pairs))
    layer = built_layer(case_id)
    n_float = sum(np.issubdtype(np.asarray(a).dtype, np.floating) for a in case.inputs)
    n_grads = sum(name.startswith("out[") for name, _, _ in outcome.pairs)
    assert n_grads == n_float + len(layer.trainable_variables)
