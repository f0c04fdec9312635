"""Parity sweep over every op: `gk.debugging.compare` (eager vs compiled), forward and
gradient, each within the bound written next to it in parity_cases.OP_CASES.

Adding a primitive or a public gk.ops function without a parity case fails
`test_every_primitive_has_a_parity_case` / `test_every_public_op_has_a_parity_case`.
"""
import numpy as np
import pytest

from graphkit.ir.tracer import trace_function
from graphkit.ops.primitive import PRIMITIVES

from tests.debugging.parity_cases import (GRAD_NORM, NOT_OPS, OP_CASES, RANDOM_CASES,
                                          assert_outcome,
                                          TRACED_AS_CONSTANT, check, gradient_scale, op_case,
                                          op_case_ids, op_outcomes, public_op_names,
                                          random_outcomes)

GRAD_IDS = [cid for cid in op_case_ids() if op_case(cid).grad]


def test_every_primitive_has_a_parity_case():
    missing = sorted(set(PRIMITIVES) - set(OP_CASES))
    assert not missing, f"primitives without a parity case in parity_cases.OP_CASES: {missing}"


def test_every_public_op_has_a_parity_case():
    missing = [n for n in public_op_names() if n not in OP_CASES and n not in RANDOM_CASES]
    assert not missing, (f"gk.ops functions without a parity case in parity_cases.OP_CASES "
                         f"(or listed in NOT_OPS with a reason): {missing}")
    assert not set(NOT_OPS) & set(OP_CASES)


def test_every_differentiable_primitive_has_a_gradient_parity_case():
    missing = sorted(name for name, prim in PRIMITIVES.items() if prim.grad is not None
                     and not any(case.grad for case in OP_CASES[name]))
    assert not missing, f"differentiable primitives without a gradient parity case: {missing}"


def test_each_primitive_case_runs_its_primitive():
    """A case keyed by a primitive's name must put that primitive in the traced graph, so
    the sweep really compiles every primitive (cheap: tracing only)."""
    lost = []
    for name in sorted(PRIMITIVES):
        ops_seen = set()
        for case in OP_CASES[name]:
            graph, _ = trace_function(case.fn, case.inputs, {}, name=name)
            ops_seen |= {n.op for n in graph.nodes}
        if name in TRACED_AS_CONSTANT:
            assert "constant" in ops_seen and name not in ops_seen, (name, ops_seen)
        elif name not in ops_seen:
            lost.append(f"{name} (traced: {sorted(ops_seen)})")
    assert not lost, f"cases that do not run their primitive: {lost}"


@pytest.mark.parametrize("case_id", op_case_ids())
def test_forward_parity(case_id):
    case = op_case(case_id)
    outcome = op_outcomes(case.group, "forward")[case_id]
    assert_outcome(outcome, case.bound, inputs=case.inputs, what=f"{case_id} forward")


@pytest.mark.parametrize("case_id", GRAD_IDS)
def test_gradient_parity(case_id):
    case = op_case(case_id)
    outcome = op_outcomes(case.group, "grad")[case_id]
    assert_outcome(outcome, GRAD_NORM, inputs=case.inputs, what=f"{case_id} gradient",
                   scale=gradient_scale(outcome.pairs))
    assert len(outcome.pairs) == sum(np.issubdtype(np.asarray(a).dtype, np.floating)
                                     for a in case.inputs)


@pytest.mark.parametrize("name", sorted(RANDOM_CASES))
def test_sampling_is_bit_identical(name):
    case = RANDOM_CASES[name]
    outcome = random_outcomes()[name]
    assert_outcome(outcome, case.bound, inputs=case.inputs, what=f"gk.random.{name}")
    # Not trivially equal: the samples vary.
    for _, eager, _ in outcome.pairs:
        assert np.unique(eager).size > 2, f"{name}: degenerate samples {eager}"


def test_the_bounds_fail_on_divergences_just_beyond_them():
    """The sweep can fail: each bound rejects an error just past it and accepts one within."""
    from tests.debugging.parity_cases import EXACT, NORM, REL, ulp_bound
    e = np.array([1.0, -2.0, 1e-3, 0.0], np.float32)
    assert check(REL, e, e * np.float32(1 + 5e-6)) is None
    assert "rel bound" in check(REL, e, e * np.float32(1 + 3e-5))
    near_zero = e.copy()
    near_zero[3] = 1e-30   # pure relative error: any error at an exact 0 fails
    assert check(REL, e, near_zero) is not None
    # NORM tolerates 1e-5 of the largest magnitude anywhere, not more.
    assert check(NORM, e, e + np.float32(1.5e-5)) is None
    assert "norm bound" in check(NORM, e, e + np.float32(5e-5))
    flipped = e.copy()
    flipped.view(np.int32)[0] ^= 1
    assert "not bit-identical" in check(EXACT, e, flipped)
    assert "not bit-identical" in check(EXACT, np.float32([0.0]), np.float32([-0.0]))
    assert check(EXACT, np.array([1, 2]), np.array([1, 3])) is not None
    assert "expected float32[4]" in check(REL, e, e[:3])
    x = np.linspace(-3, 3, 64, dtype=np.float32)
    exp_x = np.exp(x)
    allowed_plus_2 = exp_x.view(np.int32) + 6   # beyond 1 (mathlib) + NumPy's few ulps
    assert "ulp apart" in check(ulp_bound("exp"), exp_x, allowed_plus_2.view(np.float32),
                                (x,))
    assert check(ulp_bound("exp"), exp_x, exp_x, (x,)) is None


def test_compare_reports_what_the_compiled_side_ran_on():
    """The sweep's reports can say which cases ran fully native: compare passes the
    backend's stats through."""
    from graphkit.debugging import compare
    report = compare(lambda x: x * 2.0 + 1.0, np.ones((2, 3), np.float32))
    stats = report.backend_stats
    assert stats.get("kernels", 0) >= 1 and stats.get("interpreted_kernels") == []
    assert compare(lambda x: x + 1.0, np.ones(2, np.float32),
                   backend="interpreter").backend_stats == {"backend": "interpreter"}
