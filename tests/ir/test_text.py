"""The printer and the parser are exact inverses, and parse errors name the line."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit import ir, naming, ops
from graphkit.ir.graph import Graph
from graphkit.ir.parser import ParseError
from graphkit.ir.types import TensorType


def roundtrip(text):
    assert str(ir.parse(text)) == text
    return ir.parse(text)


def test_traced_graph_prints_like_the_spec_and_round_trips():
    def f(x, y):
        with naming.name_scope("dense_1"):
            return ops.add(ops.exp(x), y)
    g = ir.trace(f, np.ones((32, 128), np.float32), np.ones((32, 128), np.float32))
    text = str(g)
    assert "%3:f32[32,128] = add %2, %1  # dense_1/add" in text
    assert text.startswith('graph @f(%0:f32[32,128] "args[0]", %1:f32[32,128] "args[1]") {')
    roundtrip(text)


def test_fused_kernel_prints_indented_and_round_trips():
    text = (
        'graph @k(%0:f32[4] "x") {\n'
        '  %1:f32[4], %2:f32[] = kernel %0 {name="k0", kind="reduction"}  # layer\n'
        "    body(%3:f32[4]) {\n"
        "      %4:f32[4] = exp %3  # layer/exp\n"
        "      %5:f32[] = sum %4 {axis=(0,), keepdims=False}  # layer/sum\n"
        "      yield %4, %5\n"
        "    }\n"
        '  return %1 "e", %2 "s"\n'
        "}\n")
    g = roundtrip(text)
    ir.verify(g)
    np.testing.assert_allclose(ir.interpret(g, np.zeros(4, np.float32))[1], 4.0)


@pytest.mark.parametrize("array", [
    np.float32(2.5), np.array([1.0, -0.0, np.inf, -np.inf, np.nan], np.float32),
    np.array([[1, 2], [3, 4]], np.int32), np.array([True, False]),
    np.array([0.1, 1e-30, 3.4e38], np.float32), np.array([0.1, 1 / 3], np.float64),
    np.array([0.1, 65504.0], np.float16), np.array([255, 0], np.uint8),
    np.arange(100, dtype=np.float32) / 7,  # large: base64
])
def test_constants_round_trip_bit_exactly(array):
    g = Graph("c")
    v = g.add_constant(np.asarray(array))
    g.set_outputs([v])
    back = roundtrip(str(g))
    got = back.nodes[0].value
    assert got.dtype == np.asarray(array).dtype and got.shape == np.shape(array)
    np.testing.assert_array_equal(got.reshape(-1).view(np.uint8),
                                  np.asarray(array).reshape(-1).view(np.uint8))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=8))
def test_any_float32_bit_pattern_round_trips(bits):
    array = np.array(bits, np.uint32).view(np.float32)
    g = Graph("c")
    g.set_outputs([g.add_constant(array)])
    got = ir.parse(str(g)).nodes[0].value
    same = (got.view(np.uint32) == array.view(np.uint32)) | (np.isnan(got) & np.isnan(array))
    assert same.all()


def test_attribute_literals_round_trip():
    text = ('graph @a(%0:f32[2,3] "x") {\n'
            '  %1:f32[2,3] = full {shape=(2, 3), value=-1.5e-07, dtype="float32"}\n'
            '  %2:f32[3,2] = transpose %0 {perm=(1, 0)}  # tab\\there "quoted" # hash\n'
            '  %3:f32[] = full {shape=(), value=nan, dtype="float32"}\n'
            '  %4:f32[] = full {shape=(), value=-inf, dtype="float32"}\n'
            '  return %1 "a\\"b", %2, %3, %4\n'
            "}\n")
    g = roundtrip(text)
    assert g.nodes[0].attrs == {"shape": (2, 3), "value": -1.5e-07, "dtype": "float32"}
    assert g.output_labels == ['a"b', None, None, None]
    assert g.nodes[1].scope == 'tab\\there "quoted" # hash'
    assert np.isnan(g.nodes[2].attrs["value"])


def test_types():
    assert str(TensorType((32, None), "float32")) == "f32[32,?]"
    assert str(TensorType((), "bool")) == "bool[]"
    assert ir.types.parse_type("i64[3,4]") == TensorType((3, 4), "int64")
    with pytest.raises(ValueError, match="unknown dtype 'f8'"):
        ir.types.parse_type("f8[2]")


@pytest.mark.parametrize("text, message", [
    ('graph @g(%0:f32[2] "x") {\n  %1:f32[2] = exp %9\n  return %1\n}\n',
     "line 2: value %9 is used before it is defined"),
    ('graph @g(%0:f32[2] "x") {\n  %0:f32[2] = exp %0\n  return %0\n}\n',
     "line 2: value %0 is defined twice"),
    ('graph @g(%0:f32[2] "x") {\n  %1:q32[2] = exp %0\n  return %1\n}\n',
     "line 2: invalid type 'q32[2]'"),
    ('graph @g(%0:f32[2] "x") {\n  %1:f32[2] = exp %0\n  return %1\n',
     "a '}' is missing"),
    ('graph @g(%0:f32[2] "x") {\n  %1:f32[2] = kernel %0 {name="k0", kind="elementwise"}\n'
     '    body(%2:f32[2]) {\n      %3:f32[2] = exp %0\n      yield %3\n    }\n'
     '  return %1\n}\n',
     "line 4: value %0 is used outside this kernel body"),
    ('graph @g(%0:f32[2] "x") {\n  %1:f32[2] = full {shape=(2,), value=?, dtype="float32"}\n'
     '  return %1\n}\n', "line 2: unexpected character '?'"),
    ('graph @g() {\n  %1:f32[2] = constant [1.0, 2.0, 3.0]\n  return %1\n}\n',
     "line 2: constant literal has shape (3,), type f32[2] says (2,)"),
])
def test_parse_errors_name_the_line(text, message):
    with pytest.raises(ParseError) as e:
        ir.parse(text)
    assert message in str(e.value)


@pytest.mark.parametrize("line, message", [
    ('  %1:f32[2] = exp %0  $', "line 2: unexpected character '$' at column 23"),
    ('  %1:f32[2] = exp %0 {name="open}', "line 2: unexpected character '\"' at column 28"),
    ('  %1:f32[2] = exp % 0', "line 2: unexpected character '%' at column 19"),
    ('  %1:f32[2] exp %0', "line 2: expected '=', found 'exp'"),
    ('  %1:f32[2] = %0', "line 2: expected 'ident', found '%0'"),
    ('  %1 = exp %0', "line 2: expected 'vdef', found '%1'"),
    ('  %1:f32[2] = exp %0 {k=}', "line 2: expected a literal"),
    ('  %1:f32[2] = exp %0 extra', "line 2: unexpected 'extra'"),
])
def test_a_malformed_node_line_names_the_line_column_and_token(line, message):
    text = f'graph @g(%0:f32[2] "x") {{\n{line}\n  return %1\n}}\n'
    with pytest.raises(ParseError) as e:
        ir.parse(text)
    assert message in str(e.value)


def test_labels_and_scopes_with_escapes_and_non_ascii_round_trip():
    g = Graph("s")
    p = g.add_param(TensorType((2,), "float32"), 'x "é" \\ \t')
    with naming.name_scope("dénse"):
        out = g.add_node("exp", [p], [TensorType((2,), "float32")], scope="dénse/exp  # x")
    g.set_outputs([out.outputs[0]], ["ü\n"])
    back = roundtrip(str(g))
    assert back.param_labels == ['x "é" \\ \t'] and back.output_labels == ["ü\n"]
    assert back.nodes[0].scope == "dénse/exp  # x"
    assert back.nodes[0].attrs == {}


def test_a_string_that_is_not_json_is_a_parse_error():
    with pytest.raises(ParseError, match="line 1: invalid string"):
        ir.parse('graph @g(%0:f32[2] "x\ty") {\n  return %0\n}\n')
