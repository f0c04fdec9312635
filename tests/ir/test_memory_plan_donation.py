"""Donation: graph outputs written over donated params, only where that is safe."""
from graphkit import ir
from graphkit.ir.passes.memory_plan import plan

ADAM_LIKE = ('''graph @step(%w:f32[4,8] "w", %m:f32[4,8] "m", %v:f32[4,8] "v", '''
             '''%x:f32[2,4] "x", %g:f32[2,8] "g") {
  %m2:f32[4,8], %v2:f32[4,8], %w2:f32[4,8] = kernel %x, %g, %m, %v, %w {name="k0", kind="matmul"}
    body(%0:f32[2,4], %1:f32[2,8], %2:f32[4,8], %3:f32[4,8], %4:f32[4,8]) {
      %5:f32[4,2] = transpose %0 {perm=(1, 0)}
      %6:f32[4,8] = matmul %5, %1
      %7:f32[4,8] = add %2, %6
      %8:f32[4,8] = multiply %6, %6
      %9:f32[4,8] = add %3, %8
      %10:f32[4,8] = sqrt %9
      %11:f32[4,8] = divide %7, %10
      %12:f32[4,8] = subtract %4, %11
      yield %7, %9, %12
    }
  return %w2 "w", %m2 "m", %v2 "v"
}
''')


def donations(text, donated):
    g = ir.parse(text)
    g.annotations["donated"] = set(donated)
    return plan(g).donations


def test_each_update_lands_in_its_own_variable():
    # m2 reads only m, v2 only v: they choose first, so w2 gets w (not m or v)
    assert sorted(donations(ADAM_LIKE, {"w", "m", "v"})) == [("m2", "m"), ("v2", "v"),
                                                              ("w2", "w")]


def test_nothing_is_donated_unless_asked():
    assert donations(ADAM_LIKE, set()) == []
    assert sorted(donations(ADAM_LIKE, {"m"})) == [("m2", "m")]


def test_a_param_read_by_a_later_kernel_is_not_overwritten():
    later_reader = '''  %y:f32[2,8] = kernel %x, %w {name="k1", kind="matmul"}
    body(%20:f32[2,4], %21:f32[4,8]) {
      %22:f32[2,8] = matmul %20, %21
      yield %22
    }
  return %w2 "w", %m2 "m", %v2 "v", %y "y"'''
    text = ADAM_LIKE.replace('  return %w2 "w", %m2 "m", %v2 "v"', later_reader)
    assert sorted(donations(text, {"w", "m", "v"})) == [("m2", "m"), ("v2", "v")]


def test_a_matmul_operand_or_a_broadcast_read_is_not_overwritten():
    text = '''graph @f(%a:f32[4,4] "a", %b:f32[4] "b") {
  %c:f32[4,4], %d:f32[4] = kernel %a, %b {name="k0", kind="matmul"}
    body(%0:f32[4,4], %1:f32[4]) {
      %2:f32[4,4] = matmul %0, %0
      %3:f32[4,4] = add %2, %1
      %4:f32[4] = negative %1
      yield %3, %4
    }
  return %c "c", %d "d"
}
'''
    # %a feeds the GEMM itself; %b is broadcast into the [4,4] epilogue (read for every row)
    assert donations(text, {"a", "b"}) == []


def test_an_output_returned_twice_or_a_param_returned_is_left_alone():
    text = ADAM_LIKE.replace('return %w2 "w", %m2 "m", %v2 "v"',
                             'return %w2 "w", %m2 "m", %v2 "v", %w2 "again", %v "old_v"')
    assert donations(text, {"w", "m", "v"}) == [("m2", "m")]


def test_reduction_outer_update_is_donated_but_not_its_prologue_input():
    text = '''graph @bias(%g:f32[8,4] "g", %b:f32[4] "b", %s:f32[8,4] "s") {
  %b2:f32[4], %s2:f32[8,4] = kernel %g, %b, %s {name="k0", kind="reduction"}
    body(%0:f32[8,4], %1:f32[4], %2:f32[8,4]) {
      %3:f32[8,4] = multiply %0, %2
      %4:f32[4] = sum %3 {axis=(0,), keepdims=False}
      %5:f32[4] = subtract %1, %4
      %6:f32[8,4] = negative %2
      yield %5, %6
    }
  return %b2 "b", %s2 "s"
}
'''
    # %s feeds the reduction's prologue: the reduction must read all of it first
    assert donations(text, {"b", "s"}) == [("b2", "b")]


def test_jit_donated_argument_is_updated_in_place_and_others_are_not():
    import numpy as np
    import graphkit as gk
    from graphkit import ops

    def step(state, x):
        w, m = state
        g = ops.matmul(ops.transpose(x), x)
        m2 = 0.9 * m + 0.1 * g
        return (w - 0.5 * m2, m2), ops.sum(g)

    f = gk.jit(step, donate_argnums=(0,))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4)).astype("float32")
    w, m = rng.standard_normal((2, 4, 4)).astype("float32")
    w0, m0, x0 = w.copy(), m.copy(), x.copy()
    (w2, m2), total = f((w, m), x)
    want_m = 0.9 * m0 + 0.1 * (x0.T @ x0)
    np.testing.assert_allclose(np.asarray(m2), want_m, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(w2), w0 - 0.5 * want_m, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(x, x0)                 # not donated: untouched
    lowered = f.lower((w, m), x)
    params = lowered.graph.params                         # w, m, then x
    assert {p for _, p in lowered.memory_plan.donations} == {params[0].name, params[1].name}
    if type(f.entry_for((w, m), x).executable).__name__ == "LLVMExecutable":
        assert np.asarray(w2) is w and np.asarray(m2) is m   # written over the inputs
