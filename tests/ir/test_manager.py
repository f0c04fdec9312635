"""The pass manager: named pipelines, counts and times, dumps, verification, and costs."""
import os

import numpy as np
import pytest

from graphkit import ir, layers
from graphkit.ir import cost
from graphkit.ir.passes import manager
from graphkit.ir.tracer import trace_function


def dense_graph():
    graph, _ = trace_function(layers.Dense(16, activation="relu"),
                              (np.ones((8, 4), np.float32),))
    return graph


def test_pipeline_records_counts_and_times_per_pass():
    result = ir.run_pipeline(dense_graph(), dump_dir=False)
    names = [p["name"] for p in result.passes]
    assert names == list(manager.PASSES)
    for p in result.passes:
        assert set(p) == {"name", "ops_before", "ops_after", "seconds"} and p["seconds"] >= 0
    assert result.passes[0]["ops_before"] == 4  # matmul, add, constant, maximum
    assert [s for s, _ in result.stages] == ["input"] + names
    assert " = kernel " in result.stage("fusion") and " = kernel " not in result.stage("dce")


def test_unknown_pass_names_a_close_match():
    with pytest.raises(ValueError, match="Unknown pass: 'fuson'. Did you mean 'fusion'"):
        ir.run_pipeline(dense_graph(), "cse,fuson")


def test_dump_writes_every_stage_in_order_with_an_index(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHKIT_DUMP_IR", str(tmp_path))
    result = ir.run_pipeline(dense_graph(), "canonicalize,cse,dce,fusion,memory_plan")
    folder = result.dump_path
    assert os.path.dirname(folder) == str(tmp_path)
    files = sorted(os.listdir(folder))
    assert files == ["00_input.gkir", "01_canonicalize.gkir", "02_cse.gkir", "03_dce.gkir",
                     "04_fusion.gkir", "05_memory_plan.gkir", "index.txt"]
    assert ir.parse(open(os.path.join(folder, "04_fusion.gkir")).read()).kernels()
    index = open(os.path.join(folder, "index.txt")).read().splitlines()
    assert index[0].split() == ["stage", "file", "ops_before", "ops_after", "seconds"]
    assert index[2].split()[:4] == ["canonicalize", "01_canonicalize.gkir", "4", "4"]
    assert index[-1].startswith("memory plan: arena")
    graph = dense_graph()
    graph.name = "dense"
    second = ir.run_pipeline(graph, "dce").dump_path
    assert os.path.basename(second) == "dense.1"  # a second compilation of the same name


def test_a_pass_that_breaks_the_graph_is_named(monkeypatch):
    from graphkit.ir.passes import cse

    def broken(graph):
        graph.nodes.reverse()
        return graph
    monkeypatch.setattr(cse, "run", broken)
    with pytest.raises(manager.PassError, match="pass 'cse' left an invalid graph"):
        ir.run_pipeline(dense_graph(), "canonicalize,cse", verify_each=True, dump_dir=False)


def test_costs_per_node_and_kernel():
    g = ir.run_pipeline(dense_graph(), dump_dir=False).graph
    total = cost.graph_cost(g)
    (k,) = total["per_kernel"]
    # matmul 2*8*16*4, bias add and relu one per element each.
    assert k == {"name": "k0", "ops": ["matmul", "add", "maximum"],
                 "flops": 2 * 8 * 16 * 4 + 2 * 8 * 16,
                 "bytes": 4 * (8 * 4 + 4 * 16 + 16 + 1 + 8 * 16)}
    assert total["flops"] == k["flops"] and total["bytes"] == k["bytes"]
    unfused = cost.graph_cost(dense_graph())
    assert unfused["flops"] == total["flops"] and unfused["bytes"] > total["bytes"]
