"""The pipeline cache: a warm run parses the stored result instead of running the passes."""
import os

import numpy as np
import pytest

from graphkit import config, ir, layers
from graphkit.ir.passes import cse, manager, pipeline_cache
from graphkit.ir.tracer import trace_function
from tests.ir.helpers import assert_same_results


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(config, "_state", dict(config._state, cache_dir=None))


def mlp_graph():
    """Fresh trace of the same model (same weights): the same input text every time."""
    model = layers.Dense(6, activation="relu", name="fc")
    model.build((5, 3))
    model.kernel.assign(np.linspace(-1, 1, 18, dtype=np.float32).reshape(3, 6))
    graph, _ = trace_function(model, (np.ones((5, 3), np.float32),))
    return graph


def entries(tmp_path):
    folder = os.path.join(str(tmp_path), "pipelines")
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_a_second_run_is_read_from_the_cache(tmp_path):
    cold = ir.run_pipeline(mlp_graph(), verify_each=True, dump_dir=False)
    warm = ir.run_pipeline(mlp_graph(), verify_each=True, dump_dir=False)
    assert (cold.cached, warm.cached) == (False, True)
    assert len(entries(tmp_path)) == 1
    assert str(warm.graph) == str(cold.graph)
    assert warm.stages == cold.stages and warm.passes == cold.passes
    plan_cold, plan_warm = (r.graph.annotations["memory_plan"] for r in (cold, warm))
    assert plan_warm.arena_bytes == plan_cold.arena_bytes
    assert plan_warm.assignment == plan_cold.assignment
    assert_same_results(mlp_graph(), warm.graph)


def test_a_hit_takes_the_stored_memory_plan_without_planning(monkeypatch):
    donating = mlp_graph()
    donating.annotations["donated"] = {p.name for p in donating.params}
    cold = ir.run_pipeline(donating, dump_dir=False)
    from graphkit.ir.passes import memory_plan
    monkeypatch.setattr(memory_plan, "plan", lambda graph: pytest.fail("planned again"))
    again = mlp_graph()
    again.annotations["donated"] = {p.name for p in again.params}
    warm = ir.run_pipeline(again, dump_dir=False)
    assert warm.cached
    plan_cold, plan_warm = (r.graph.annotations["memory_plan"] for r in (cold, warm))
    assert plan_warm.to_json() == plan_cold.to_json()
    # the backend keys its object code on the plan's repr: it must not change on a round trip
    assert repr((sorted(plan_warm.assignment.items()), plan_warm.in_place, plan_warm.slots,
                 plan_warm.views, plan_warm.donations)) == \
        repr((sorted(plan_cold.assignment.items()), plan_cold.in_place, plan_cold.slots,
              plan_cold.views, plan_cold.donations))


def test_another_input_or_pipeline_misses(tmp_path):
    ir.run_pipeline(mlp_graph(), dump_dir=False)
    assert ir.run_pipeline(mlp_graph(), "canonicalize,cse,dce", dump_dir=False).cached is False
    other = mlp_graph()
    other.annotations["donated"] = {other.params[1].name, other.params[0].name}
    assert ir.run_pipeline(other, dump_dir=False).cached is False
    again = mlp_graph()
    again.annotations["donated"] = {again.params[0].name, again.params[1].name}
    assert ir.run_pipeline(again, dump_dir=False).cached is True  # set order is not the key
    assert len(entries(tmp_path)) == 3


def test_a_replaced_pass_is_not_served_the_old_result(monkeypatch):
    ir.run_pipeline(mlp_graph(), "canonicalize,cse", dump_dir=False)

    def broken(graph):
        graph.outputs = []
        return graph

    monkeypatch.setattr(cse, "run", broken)
    result = ir.run_pipeline(mlp_graph(), "canonicalize,cse", dump_dir=False)
    assert result.cached is False and result.graph.outputs == []


def test_dumping_and_keep_text_false_bypass_the_cache(tmp_path):
    ir.run_pipeline(mlp_graph(), dump_dir=False)
    dumped = ir.run_pipeline(mlp_graph(), dump_dir=str(tmp_path / "dump"))
    assert dumped.cached is False and dumped.dump_path
    assert ir.run_pipeline(mlp_graph(), dump_dir=False, keep_text=False).cached is False
    assert ir.run_pipeline(mlp_graph(), dump_dir=False, cache=False).cached is False


def test_a_corrupt_or_foreign_entry_is_recomputed_and_rewritten(tmp_path):
    ir.run_pipeline(mlp_graph(), dump_dir=False)
    [name] = entries(tmp_path)
    path = os.path.join(str(tmp_path), "pipelines", name)
    good = open(path, "rb").read()
    key = name.split(".")[0]
    stored = pipeline_cache.load(key)
    for bad in (good[:-5], good[:80] + bytes([good[80] ^ 0x55]) + good[81:], b"junk"):
        with open(path, "wb") as f:
            f.write(bad)
        assert ir.run_pipeline(mlp_graph(), dump_dir=False).cached is False
        assert pipeline_cache.load(key)["stages"] == stored["stages"]  # rewritten
    from graphkit.ir import disk_entries
    disk_entries.write_entry(path, key, b"{not json")  # valid header, foreign payload
    assert pipeline_cache.load(key) is None
    assert ir.run_pipeline(mlp_graph(), dump_dir=False).cached is False
    assert ir.run_pipeline(mlp_graph(), dump_dir=False).cached is True


def test_the_key_covers_the_sources_of_the_passes():
    digest = pipeline_cache.sources_digest()
    assert len(digest) == 64
    names = manager.parse_pipeline(manager.DEFAULT_PIPELINE)
    a = pipeline_cache.pipeline_key("text", names, {})
    assert a == pipeline_cache.pipeline_key("text", names, {})
    assert a != pipeline_cache.pipeline_key("text2", names, {})
    pipeline_cache.sources_digest.cache_clear()
    try:
        pipeline_cache._SOURCES += ("config.py",)
        assert pipeline_cache.pipeline_key("text", names, {}) != a
    finally:
        pipeline_cache._SOURCES = pipeline_cache._SOURCES[:-1]
        pipeline_cache.sources_digest.cache_clear()


def test_a_hit_on_a_verified_entry_is_not_verified_again(monkeypatch):
    calls = []
    real = manager.verify
    monkeypatch.setattr(manager, "verify", lambda g: calls.append(g) or real(g))
    cold = ir.run_pipeline(mlp_graph(), verify_each=True, dump_dir=False)
    # the input, then every pass that changed the text (the others left a verified graph)
    changed = sum(a != b for (_, a), (_, b) in zip(cold.stages, cold.stages[1:]))
    assert 0 < changed < len(manager.PASSES)
    assert len(calls) == 1 + changed
    calls.clear()
    warm = ir.run_pipeline(mlp_graph(), verify_each=True, dump_dir=False)
    assert warm.cached and calls == []


def test_a_hit_on_an_unverified_entry_is_verified(monkeypatch):
    ir.run_pipeline(mlp_graph(), dump_dir=False)   # stored without verify_each
    calls = []
    real = manager.verify
    monkeypatch.setattr(manager, "verify", lambda g: calls.append(g) or real(g))
    warm = ir.run_pipeline(mlp_graph(), verify_each=True, dump_dir=False)
    assert warm.cached and len(calls) == 2       # the input and the parsed result
    assert calls[1] is warm.graph


def test_a_caller_may_pass_the_input_text_it_printed():
    graph = mlp_graph()
    text = str(graph)
    result = ir.run_pipeline(graph, dump_dir=False, input_text=text, input_stage="traced")
    assert result.stages[0] == ("traced", text)
    again = ir.run_pipeline(mlp_graph(), dump_dir=False)
    assert again.cached and str(again.graph) == str(result.graph)
