"""A pipeline cache hit loads the pickled final graph (no parsing), and falls back to parsing
the stored text when the pickle is missing or unreadable; source digests are remembered on
disk until a file changes."""
import json
import os

import pytest

from graphkit import config, ir
from graphkit.ir import disk_entries, parser, source_memo
from graphkit.ir.passes import pipeline_cache
from tests.ir.test_pipeline_cache import entries, mlp_graph


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(config, "_state", dict(config._state, cache_dir=None))


def _refuse_to_parse(monkeypatch):
    def refuse(text):
        raise AssertionError("parse() called")
    monkeypatch.setattr(parser, "parse", refuse)


def test_a_hit_loads_the_pickled_graph_without_parsing(monkeypatch):
    cold = ir.run_pipeline(mlp_graph(), verify_each=True, dump_dir=False)
    _refuse_to_parse(monkeypatch)
    warm = ir.run_pipeline(mlp_graph(), verify_each=True, dump_dir=False)
    assert warm.cached and warm.graph is not cold.graph
    assert str(warm.graph) == str(cold.graph) == warm.final_text
    assert "memory_plan" in warm.graph.annotations


def _rewrite_entry(tmp_path, edit):
    (name,) = entries(tmp_path)
    key = name[:-len(".gkp")]
    path = os.path.join(str(tmp_path), "pipelines", name)
    payload, _ = disk_entries.read_entry(path, key)
    entry = json.loads(payload)
    edit(entry)
    disk_entries.write_entry(path, key, json.dumps(entry).encode("utf-8"))


@pytest.mark.parametrize("edit", [lambda e: e.pop("graph"),
                                  lambda e: e.update(graph="not base64!"),
                                  lambda e: e.update(graph="AAAA")])
def test_a_hit_without_a_readable_pickle_parses_the_text(tmp_path, edit):
    cold = ir.run_pipeline(mlp_graph(), dump_dir=False)
    _rewrite_entry(tmp_path, edit)
    warm = ir.run_pipeline(mlp_graph(), dump_dir=False)
    assert warm.cached and str(warm.graph) == str(cold.graph)


def test_a_graph_that_does_not_pickle_is_stored_as_text_only(tmp_path, monkeypatch):
    def too_deep(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")
    monkeypatch.setattr(pipeline_cache.pickle, "dumps", too_deep)
    cold = ir.run_pipeline(mlp_graph(), dump_dir=False)
    (name,) = entries(tmp_path)
    payload, _ = disk_entries.read_entry(
        os.path.join(str(tmp_path), "pipelines", name), name[:-len(".gkp")])
    assert "graph" not in json.loads(payload)
    assert "memory_plan" in cold.graph.annotations   # put back after the attempt
    warm = ir.run_pipeline(mlp_graph(), dump_dir=False)
    assert warm.cached and str(warm.graph) == str(cold.graph)


def test_a_source_digest_is_remembered_until_a_file_changes(tmp_path):
    src = tmp_path / "a.py"
    src.write_text("x = 1\n")
    calls = []

    def compute():
        calls.append(src.read_text())
        return f"digest of {calls[-1]!r}"

    first = source_memo.remembered("test", [str(src)], compute)
    assert source_memo.remembered("test", [str(src)], compute) == first
    assert len(calls) == 1                                  # the second one was remembered
    assert source_memo.remembered("other", [str(src)], compute) == first
    assert len(calls) == 2                                  # another label: its own entry
    src.write_text("x = 22\n")                              # another size (and mtime)
    assert source_memo.remembered("test", [str(src)], compute) == "digest of 'x = 22\\n'"
    missing = str(tmp_path / "gone.py")
    assert source_memo.remembered("test", [missing], lambda: "computed") == "computed"
