"""The verifier rejects each kind of malformed graph with a message naming the problem."""
import numpy as np
import pytest

from graphkit import ir
from graphkit.ir.verifier import VerificationError

GOOD = """graph @g(%0:f32[2,3] "x", %1:f32[3] "b") {
  %2:f32[2,3] = add %0, %1  # layer/add
  %3:f32[2] = sum %2 {axis=(1,), keepdims=False}  # layer/sum
  return %3 "out"
}
"""


def test_a_good_graph_passes():
    assert ir.verify(ir.parse(GOOD)) is not None


def edit(fn):
    g = ir.parse(GOOD)
    fn(g)
    return g


def _wrong_type(g):
    g.nodes[0].outputs[0].type = ir.TensorType((2, 4), "float32")


def _wrong_attr_value(g):
    g.nodes[1].attrs["axis"] = (5,)


def _missing_attr(g):
    del g.nodes[1].attrs["keepdims"]


def _array_attr(g):
    g.nodes[1].attrs["axis"] = np.array([1])


def _use_before_def(g):
    g.nodes.reverse()


def _unknown_op(g):
    g.nodes[0].op = "frobnicate"


def _dangling_output(g):
    g.outputs = [g.nodes[0].outputs[0], ir.parse(GOOD).nodes[1].outputs[0]]
    g.output_labels = [None, None]


def _bad_constant(g):
    g.nodes.insert(0, g.make_node("constant", [], [ir.TensorType((2,), "float32")],
                                  value=np.zeros(3, np.float32)))


@pytest.mark.parametrize("mutate, message", [
    (_wrong_type, "output %2 has type f32[2,4], the shape rule gives f32[2,3]"),
    (_wrong_attr_value, "its shape rule rejects the operands"),
    (_missing_attr, "attributes ['axis'] do not match"),
    (_array_attr, "is a ndarray; attributes are None, bool, int, float, str"),
    (_use_before_def, "operand 0 %2 is defined later or nowhere"),
    (_unknown_op, "unknown op 'frobnicate'"),
    (_dangling_output, "is not defined in the graph"),
    (_bad_constant, "holds an array of type f32[3], its output says f32[2]"),
])
def test_malformed_graphs_are_named(mutate, message):
    with pytest.raises(VerificationError) as e:
        ir.verify(edit(mutate))
    assert message in str(e.value)


KERNEL = """graph @k(%0:f32[4] "x") {
  %1:f32[4] = kernel %0 {name="k0", kind="elementwise"}
    body(%2:f32[4]) {
      %3:f32[4] = exp %2
      yield %3
    }
  return %1
}
"""


def test_kernel_body_must_match_its_node():
    g = ir.parse(KERNEL)
    ir.verify(g)
    g.nodes[0].body.params[0].type = ir.TensorType((5,), "float32")
    with pytest.raises(VerificationError, match="body parameter types"):
        ir.verify(g)


def test_kernel_body_cannot_read_outer_values():
    g = ir.parse(KERNEL)
    g.nodes[0].body.nodes[0].operands = [g.params[0]]
    with pytest.raises(VerificationError, match="in an enclosing graph"):
        ir.verify(g)


def test_kernel_needs_name_and_kind():
    g = ir.parse(KERNEL)
    del g.nodes[0].attrs["kind"]
    with pytest.raises(VerificationError, match="string attribute 'kind'"):
        ir.verify(g)
