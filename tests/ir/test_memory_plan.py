"""Memory planning: reuse by liveness, in-place updates, and no overlap of live values."""
import numpy as np

import graphkit as gk
from graphkit import ir, layers, ops
from graphkit.ir.passes.fusion import VIEW_OPS
from graphkit.ir.passes.memory_plan import plan
from graphkit.ir.tracer import trace_function


def check_plan(graph, p):
    """Values live at the same time never share bytes (except an in-place pair)."""
    roots = {}
    for node in graph.nodes:
        if node.op in VIEW_OPS:
            src = node.operands[0]
            roots[node.outputs[0]] = roots.get(src, src)
    defined, last = {}, {}
    for i, node in enumerate(graph.nodes):
        for o in node.outputs:
            defined.setdefault(roots.get(o, o), i)
        for v in node.operands:
            last[roots.get(v, v)] = i
    byname = {v.name: v for v in defined}
    placed = [(byname[n], s) for n, s in p.assignment.items()]
    in_place = {(o, i) for o, i in p.in_place}
    for a, sa in placed:
        for b, sb in placed:
            if a is b or defined[a] > defined[b]:
                continue
            a_end = last.get(a, defined[a])
            if defined[b] > a_end:
                continue  # a is dead before b is made
            if defined[b] == a_end and (b.name, a.name) in in_place:
                continue
            oa, na = p.slots[sa][0], a.type.nbytes
            ob, nb = p.slots[sb][0], b.type.nbytes
            assert oa + na <= ob or ob + nb <= oa, f"%{a.name} and %{b.name} overlap"
    for _, (offset, size) in enumerate(p.slots):
        assert offset % 64 == 0 and size % 64 == 0


def optimized(fn, *args):
    graph, info = trace_function(fn, args)
    return ir.run_pipeline(graph, verify_each=True, dump_dir=False).graph


def test_chain_reuses_slots_and_works_in_place():
    g = ir.parse(open(__file__.replace("test_memory_plan.py", "cases/memory_plan_chain.gkir"))
                 .read().split("# expect:")[0].split("\n", 1)[1])
    p = plan(g)
    assert p.in_place == [("b", "a")]
    assert p.assignment["a"] == p.assignment["b"] != p.assignment["d"]
    assert p.arena_bytes == 512 and p.intermediate_bytes == 768
    assert "arena 512 bytes in 2 slots" in p.report()
    check_plan(g, p)


def test_training_step_plan_is_smaller_than_the_sum_and_has_no_live_overlap():
    model = gk.Sequential([layers.Dense(32, activation="relu"), layers.Dense(32, activation="tanh"),
                           layers.Dense(4)])
    x = np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32)
    model(x)

    def step(x):
        with gk.GradientTape() as tape:
            loss = ops.mean(ops.square(model(x)))
        return loss, tape.gradient(loss, model.trainable_variables)

    g = optimized(step, x)
    p = g.annotations["memory_plan"]
    assert 0 < p.arena_bytes < p.intermediate_bytes
    check_plan(g, p)


def test_graph_outputs_and_params_are_not_in_the_arena():
    g = optimized(lambda x: (ops.exp(x), ops.exp(x) * 2.0), np.ones(8, np.float32))
    p = g.annotations["memory_plan"]
    names = {v.name for v in g.outputs} | {v.name for v in g.params}
    assert not names & set(p.assignment)
