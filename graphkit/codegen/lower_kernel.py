"""Lowering one fused kernel node (see graphkit/ir/kernel.py) to native sub-kernels.

A kernel node becomes one or more native functions ("sub-kernels") run in order, each with
the `void f(ptr args)` ABI of the emitters. Their arguments are *buffers*, named by the
caller's `BufferRef`s: the kernel's operands and outputs, plus scratch buffers this module
asks for (a reduction's result or a matmul product that other outputs read).

- elementwise: one sub-kernel per distinct output shape, every body node inlined as an
  `expr.Expr` DAG over the kernel operands (broadcast by strides);
- reduction: the anchor with its prologue inlined, then elementwise sub-kernels for the
  other outputs (outer and inner epilogues), which read the reduced value as an operand;
- matmul: the GEMM with every output's epilogue fused (stored from the register tile)
  when all outputs have the product's shape; otherwise the product goes to a buffer and
  the outputs are elementwise sub-kernels reading it;
- random (`random_bits`): the Philox emitter;
- opaque (`argsort`) and `random_permutation`: graphkit/codegen/sorting.py.
Anything else raises `Unsupported`, naming the kernel and the op.
"""
import math
from dataclasses import dataclass, field

from graphkit.codegen import expr as ex
from graphkit.codegen.elementwise import Operand, emit_elementwise
from graphkit.codegen.matmul import GEMM_DTYPES, MatmulShape, emit_matmul
from graphkit.codegen.philox import emit_random_bits
from graphkit.codegen.reduction import ARG_REDUCE_OPS, REDUCE_OPS, emit_reduction
from graphkit.ir.kernel import KernelInfo

FLOATS = ("float16", "float32", "float64")
_EXPM1_TAYLOR_BELOW = 0.1  # below this |x|, exp(x) - 1 cancels: use the series instead


class Unsupported(Exception):
    """A kernel (or one op in it) that this lowering cannot emit."""


@dataclass
class SubKernel:
    name: str                 # native function name
    args: list                # buffer keys, in ABI order: ("value", Value) | ("scratch", i)
    workspace: int = 0        # bytes of shared workspace appended as the last argument


@dataclass
class KernelLowering:
    subkernels: list = field(default_factory=list)
    scratch: list = field(default_factory=list)   # (shape, dtype) per scratch buffer
    stable_operands: tuple = ()   # positions of the kernel's operands in `stable` (lowering)


def lower_kernel(module, node, stable=frozenset()):
    """Emit the sub-kernels of kernel `node` into `module`; returns a KernelLowering.

    `stable`: the graph values whose contents change only when a variable is assigned or
    updated in place (variables the graph reads and does not write): a matmul keeps such a
    B packed from call to call (its buffer a scratch of its own, checked against the state
    version, the ("version", None) argument).

    A kernel identical to one lowered before into `module` (or into an earlier chunk that
    shares its `LOWERED_ATTR` table, chunks.py) emits nothing: its sub-kernels are the
    earlier ones, called on its own buffers (e.g. the same Adam update of two layers of
    the same shape)."""
    memo = lowered_kernels(module)
    stable_operands = tuple(i for i, v in enumerate(node.operands) if v in stable)
    key = (_structure_key(node), stable_operands)
    reused = _reuse(memo.get(key), node)
    if reused is not None:
        return reused
    lowering = _lower_new(module, node, stable_operands)
    memo[key] = (module, node, lowering)
    return lowering


def _lower_new(module, node, stable_operands=()):
    info = KernelInfo(node)
    lowering = KernelLowering(stable_operands=stable_operands)
    kind = info.kind
    if any(math.prod(o.type.shape) == 0 for o in node.outputs):
        raise Unsupported(f"kernel {info.name} has an empty output")
    if kind == "elementwise":
        _elementwise_outputs(module, node, info, {}, lowering)
    elif kind == "reduction":
        _reduction(module, node, info, lowering)
    elif kind == "matmul":
        _matmul(module, node, info, lowering)
    elif kind == "random" and info.members == ["random_bits"]:
        _random_bits(module, node, info, lowering)
    elif kind == "random" and info.members == ["random_permutation"]:
        _family_lowering("random_permutation")(module, node, info, lowering)
    elif kind in _FAMILY_LOWERINGS:
        _family_lowering(kind)(module, node, info, lowering)
    else:
        raise Unsupported(f"kernel {info.name}: kind {kind!r} (ops {info.members}) has no "
                          "native lowering")
    return lowering


# -- reusing an identical kernel's sub-kernels ---------------------------------------------------

# The attribute of an llvmlite Module holding {structure key: (module, node, lowering)} of
# the kernels lowered into it; chunks.py gives all the chunks of one graph the same table.
LOWERED_ATTR = "graphkit_lowered_kernels"


def lowered_kernels(module):
    table = getattr(module, LOWERED_ATTR, None)
    if table is None:
        table = {}
        setattr(module, LOWERED_ATTR, table)
    return table


def _structure_key(node):
    """What the code of kernel `node` depends on: its attributes but the name, operand and
    output types, and its body up to value names (constants by their bytes)."""
    body = node.body
    ref = {v: ("p", i) for i, v in enumerate(body.params)}
    parts = [repr(sorted((k, v) for k, v in node.attrs.items() if k != "name")),
             tuple(str(v.type) for v in node.operands),
             tuple(str(v.type) for v in node.outputs)]
    for i, n in enumerate(body.nodes):
        value = None if n.value is None else (str(n.value.dtype), n.value.shape,
                                              n.value.tobytes())
        parts.append((n.op, tuple(ref[v] for v in n.operands),
                      tuple(str(o.type) for o in n.outputs), repr(sorted(n.attrs.items())),
                      value))
        ref.update((o, ("n", i, j)) for j, o in enumerate(n.outputs))
    parts.append(tuple(ref[v] for v in body.outputs))
    scalars = [(i, inlined_constant(v)) for i, v in enumerate(node.operands)]
    parts.append(tuple((i, repr(c)) for i, c in scalars if c is not None))
    return tuple(parts)


def inlined_constant(value):
    """The number of a scalar graph constant that a kernel operand is, or None. Expression
    kernels write it into their code: LLVM folds it (x * 1.0, an exp of a constant...), a
    max against 0 is one instruction (a max against an operand must handle a NaN there),
    and no register or load is spent on it in the loop."""
    node = value.producer
    if node is None or node.op != "constant" or node.value is None or value.type.shape != ():
        return None
    return node.value.reshape(()).item()


def _reuse(hit, node):
    """The lowering of `hit` (an identical kernel's) with `node`'s buffers, or None when
    there is no hit or its functions are gone (a failed lowering, `Chunks.forget`)."""
    if hit is None:
        return None
    module, original, lowering = hit
    if any(sk.name not in module.globals for sk in lowering.subkernels):
        return None
    position = {v: node.operands[i] for i, v in enumerate(original.operands)}
    position.update((v, node.outputs[i]) for i, v in enumerate(original.outputs))
    subkernels = []
    for sk in lowering.subkernels:
        args = []
        for kind, ref in sk.args:
            if kind == "value" and ref in position:
                args.append((kind, position[ref]))
            elif kind in ("scratch", "version"):
                args.append((kind, ref))
            else:
                return None
        subkernels.append(SubKernel(sk.name, args, sk.workspace))
    return KernelLowering(subkernels, list(lowering.scratch))


# Kernel kinds lowered by a module of their own: (module, function(module, node, info,
# lowering)). Imported on first use because those modules build on this one (SubKernel,
# Unsupported, the expression builder).
_FAMILY_LOWERINGS = {
    "layout": ("graphkit.codegen.layout", "lower_layout"),
    "creation": ("graphkit.codegen.layout", "lower_creation"),
    "gather": ("graphkit.codegen.gather", "lower_gather"),
    "conv": ("graphkit.codegen.conv", "lower_conv"),
    "pool": ("graphkit.codegen.pool", "lower_pool"),
    "opaque": ("graphkit.codegen.sorting", "lower_sorting"),   # argsort
    # an op of kind "random", dispatched above by name (a sort of the Philox words)
    "random_permutation": ("graphkit.codegen.sorting", "lower_random_permutation"),
}


def _family_lowering(kind):
    import importlib
    module_name, fn = _FAMILY_LOWERINGS[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        raise Unsupported(f"kind {kind!r} has no native lowering yet") from None
    return getattr(module, fn)


# -- body nodes -> Expr ------------------------------------------------------------------------

class _ExprBuilder:
    """Body values -> Exprs over a list of leaf buffers (kernel operands and extra leaves)."""

    def __init__(self, info, leaves):
        self.info = info
        self.produced = {o: n for n in info.body.nodes for o in n.outputs}
        self.leaf_index = {}      # body value -> input index
        self.leaf_keys = []       # buffer keys, in input order
        self.leaf_types = []
        for value, key in leaves:
            self._add_leaf(value, key)

    def _add_leaf(self, value, key):
        self.leaf_index[value] = len(self.leaf_keys)
        self.leaf_keys.append(key)
        self.leaf_types.append(value.type)

    def operand_leaf(self, value):
        """A body param: input = the kernel operand at the same position."""
        pos = self.info.body.params.index(value)
        self._add_leaf(value, ("value", self.info.node.operands[pos]))

    def expr(self, value):
        memo = {}
        return self._expr(value, memo)

    def _expr(self, value, memo):
        if value in memo:
            return memo[value]
        if value not in self.leaf_index and value in self.info.body.params:
            outer = self.info.node.operands[self.info.body.params.index(value)]
            scalar = inlined_constant(outer)
            if scalar is not None:
                memo[value] = ex.constant(scalar, value.type.dtype)
                return memo[value]
            self.operand_leaf(value)
        if value in self.leaf_index:
            e = ex.input(self.leaf_index[value], value.type.dtype)
        else:
            node = self.produced[value]
            args = [self._expr(v, memo) for v in node.operands]
            e = _node_expr(self.info, node, args)
        memo[value] = e
        return e

    def operands(self):
        return [Operand(tuple(t.shape), t.dtype) for t in self.leaf_types]


def _node_expr(info, node, args):
    op, out_dtype = node.op, node.outputs[0].type.dtype
    if op == "full":
        return ex.constant(node.attrs["value"], out_dtype)
    if op == "broadcast_to":
        return args[0]
    if op == "isnan" and args[0].dtype in FLOATS:
        return ex.apply("not_equal", args[0], args[0])
    if op == "isinf" and args[0].dtype in FLOATS:
        return ex.apply("equal", ex.apply("abs", args[0]),
                        ex.constant(float("inf"), args[0].dtype))
    if op == "expm1" and args[0].dtype in FLOATS:
        return _expm1(args[0])
    if not ex.supports(op):
        raise Unsupported(f"kernel {info.name} ({info.kind}): op '{op}' has no native "
                          "lowering")
    if op in ("cast", "bits_to_unit_float"):
        return ex.apply(op, args[0], dtype=out_dtype)
    if op == "where":
        args = [args[0]] + [_cast(a, out_dtype) for a in args[1:]]
    elif out_dtype != "bool":
        args = [_cast(a, out_dtype) for a in args]
    elif len({a.dtype for a in args}) > 1:
        raise Unsupported(f"kernel {info.name}: op '{op}' on mixed dtypes "
                          f"{[a.dtype for a in args]}")
    e = ex.apply(op, *args)
    if e.dtype != out_dtype:
        raise Unsupported(f"kernel {info.name}: op '{op}' gives {e.dtype} natively but "
                          f"{out_dtype} in the graph")
    return e


def _cast(e, dtype):
    return e if e.dtype == dtype else ex.apply("cast", e, dtype=dtype)


def _expm1(x):
    """expm1 without cancellation near 0: Taylor series (to x^8) below 0.1, exp(x)-1 above."""
    dt = x.dtype
    c = lambda v: ex.constant(v, dt)  # noqa: E731
    series = c(1.0 / 40320)
    for k in (5040, 720, 120, 24, 6, 2, 1):
        series = ex.apply("add", c(1.0 / k), ex.apply("multiply", x, series))
    series = ex.apply("multiply", x, series)
    direct = ex.apply("subtract", ex.apply("exp", x), c(1.0))
    small = ex.apply("less", ex.apply("abs", x), c(_EXPM1_TAYLOR_BELOW))
    return ex.apply("where", small, series, direct)


# -- elementwise outputs -----------------------------------------------------------------------

def _elementwise_outputs(module, node, info, extra_leaves, lowering, skip=()):
    """One elementwise sub-kernel per output shape for the kernel outputs not in `skip`.

    extra_leaves: body value -> buffer key read as an input (a reduction result...)."""
    groups = {}
    for body_out, out in zip(info.body.outputs, node.outputs):
        if out in skip:
            continue
        groups.setdefault(tuple(out.type.shape), []).append((body_out, out))
    for shape, members in groups.items():
        # only the extra leaves these outputs read: an unread reduction result of another
        # shape (keepdims=False) would fail the broadcast check for nothing
        used = _reachable(info, [bo for bo, _ in members])
        eb = _ExprBuilder(info, [(v, k) for v, k in extra_leaves.items() if v in used])
        exprs = [_cast(eb.expr(bo), out.type.dtype) for bo, out in members]
        name = f"{info.name}_{len(lowering.subkernels)}"
        _check_broadcast(info, eb, shape)
        emit_elementwise(module, name, eb.operands(), exprs, shape)
        lowering.subkernels.append(SubKernel(
            name, list(eb.leaf_keys) + [("value", out) for _, out in members]))


def _reachable(info, values):
    """Body values that `values` are computed from (themselves included)."""
    produced = {o: n for n in info.body.nodes for o in n.outputs}
    seen, stack = set(), list(values)
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if v in produced:
            stack.extend(produced[v].operands)
    return seen


def _check_broadcast(info, eb, shape):
    for t in eb.leaf_types:
        s = tuple(t.shape)
        if len(s) > len(shape) or any(d not in (1, o) for d, o in
                                      zip(reversed(s), reversed(shape))):
            raise Unsupported(f"kernel {info.name}: operand of shape {s} does not broadcast "
                              f"to the output shape {shape}")


def _buffer_for(value, node, lowering):
    """The kernel output itself when `value` is one, else a new scratch buffer."""
    if value in node.outputs:
        return ("value", value)
    lowering.scratch.append((tuple(value.type.shape), value.type.dtype))
    return ("scratch", len(lowering.scratch) - 1)


# -- reduction ---------------------------------------------------------------------------------

def _reduction(module, node, info, lowering):
    anchor = info.anchor
    if anchor.op not in REDUCE_OPS or info.levels is None:
        raise Unsupported(f"kernel {info.name} (reduction): op '{anchor.op}' has no native "
                          "lowering")
    result = anchor.outputs[0]
    out_dtype = result.type.dtype
    eb = _ExprBuilder(info, [])
    prologue = eb.expr(anchor.operands[0])
    if anchor.op not in ARG_REDUCE_OPS:  # argmax/argmin compare values in their own dtype
        prologue = _cast(prologue, out_dtype)
    body_out = dict(zip(info.body.outputs, node.outputs))
    result_outer = body_out.get(result)
    key = ("value", result_outer) if result_outer is not None else _buffer_for(
        result, node, lowering)
    name = f"{info.name}_{len(lowering.subkernels)}"
    emit_reduction(module, name, eb.operands(), prologue, info.space, info.reduce_axes,
                   op=anchor.op, index_dtype=out_dtype)
    lowering.subkernels.append(SubKernel(name, list(eb.leaf_keys) + [key]))
    skip = {result_outer} if result_outer is not None else set()
    _elementwise_outputs(module, node, info, {result: key}, lowering, skip=skip)


# -- matmul ------------------------------------------------------------------------------------

def _matmul(module, node, info, lowering):
    anchor = info.anchor
    dtype = anchor.outputs[0].type.dtype
    if dtype not in GEMM_DTYPES:   # float16: widened to float32 as read (matmul.py)
        raise Unsupported(f"kernel {info.name} (matmul): dtype {dtype} has no native lowering")
    a_val, a_t = _matmul_operand(info, anchor.operands[0])
    b_val, b_t = _matmul_operand(info, anchor.operands[1])
    a_shape, b_shape = tuple(anchor.operands[0].type.shape), tuple(anchor.operands[1].type.shape)
    c_shape = tuple(anchor.outputs[0].type.shape)
    m, k, n = a_shape[-2], a_shape[-1], b_shape[-1]
    shape = MatmulShape(m=m, k=k, n=n, batch=c_shape[:-2], dtype=dtype,
                        a_batch=a_shape[:-2], b_batch=b_shape[:-2])
    if a_t:
        shape = _transposed(shape, "a", a_shape)
    if b_t:
        shape = _transposed(shape, "b", b_shape)
    a_key = ("value", _operand_of(info, a_val))
    b_key = ("value", _operand_of(info, b_val))
    product = anchor.outputs[0]
    name = f"{info.name}_{len(lowering.subkernels)}"
    if all(tuple(o.type.shape) == c_shape for o in node.outputs):
        # every output is computed from the tile in registers and stored by the GEMM itself
        eb = _ExprBuilder(info, [(product, ("product", None))])
        epilogues = [_cast(eb.expr(bo), out.type.dtype)
                     for bo, out in zip(info.body.outputs, node.outputs)]
        _check_broadcast(info, eb, c_shape)
        spec = emit_matmul(module, name, shape, epilogue=epilogues,
                           epilogue_operands=eb.operands()[1:],
                           prepacked_b=_stable(info, lowering, b_key[1]))
        lowering.subkernels.append(SubKernel(
            name, [a_key, b_key] + eb.leaf_keys[1:] + [("value", o) for o in node.outputs]
            + _prepacked_args(spec, lowering), workspace=spec.workspace_bytes))
        return
    # outputs of other shapes (a reduced bias gradient...): the product goes to a buffer
    # and the outputs are elementwise sub-kernels reading it
    body_out = dict(zip(info.body.outputs, node.outputs))
    p_outer = body_out.get(product)
    key = ("value", p_outer) if p_outer is not None else _buffer_for(product, node, lowering)
    spec = emit_matmul(module, name, shape, prepacked_b=_stable(info, lowering, b_key[1]))
    lowering.subkernels.append(SubKernel(name, [a_key, b_key, key]
                                         + _prepacked_args(spec, lowering),
                                         workspace=spec.workspace_bytes))
    skip = {p_outer} if p_outer is not None else set()
    _elementwise_outputs(module, node, info, {product: key}, lowering, skip=skip)


def _stable(info, lowering, outer):
    """Whether kernel operand `outer` is one of lower_kernel's `stable` values."""
    return info.node.operands.index(outer) in lowering.stable_operands


def _prepacked_args(spec, lowering):
    """The extra arguments of a matmul that keeps B packed: its buffer (a zeroed scratch of
    its own, so a call site never shares it) and the state version cell."""
    if not spec.prepacked_bytes:
        return []
    lowering.scratch.append(((spec.prepacked_bytes,), "uint8"))
    return [("scratch", len(lowering.scratch) - 1), ("version", None)]


def _matmul_operand(info, value):
    """(body param read, read through a transpose?) for a matmul operand."""
    if value in info.body.params:
        return value, False
    producer = next(n for n in info.body.nodes if value in n.outputs)
    if producer.op == "transpose" and producer.operands[0] in info.body.params:
        perm = tuple(producer.attrs["perm"])
        nd = len(perm)
        if nd >= 2 and perm == tuple(range(nd - 2)) + (nd - 1, nd - 2):
            return producer.operands[0], True
    raise Unsupported(f"kernel {info.name} (matmul): operand computed by "
                      f"'{producer.op}' has no native lowering")


def _transposed(shape, which, logical):
    """Strides reading a stored (batch..., y, x) array as its (batch..., x, y) transpose."""
    from dataclasses import replace
    stored = tuple(logical[:-2]) + (logical[-1], logical[-2])
    s = list(Operand(stored, shape.dtype).element_strides())
    s[-1], s[-2] = s[-2], s[-1]
    return replace(shape, **{f"{which}_strides": tuple(s)})


def _operand_of(info, param):
    return info.node.operands[info.body.params.index(param)]


# -- random ------------------------------------------------------------------------------------

def _random_bits(module, node, info, lowering):
    rb = info.body.nodes[0]
    key = _operand_of(info, rb.operands[0])
    name = f"{info.name}_{len(lowering.subkernels)}"
    emit_random_bits(module, name, tuple(node.outputs[0].type.shape))
    lowering.subkernels.append(SubKernel(name, [("value", key), ("value", node.outputs[0])]))
