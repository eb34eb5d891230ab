"""`--ray`: the per-block work as Ray Data tasks on a local Ray instance gives the audit of a
local run, bit for bit (timings apart); without Ray installed, one line says what to install."""
from __future__ import annotations

import json
from dataclasses import replace
import sys

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.test_discovery import generate
from traitforge.audit import AuditConfig, run_audit
from traitforge.audit.ngram_counts import Blocks, count_slot, pairs_in
from traitforge.audit.outputs import audit_document
from traitforge.executors import RayExecutor, current, running_on
from traitforge.io import InputError


@pytest.fixture(scope="module")
def ray_here():
    """One local Ray instance for the module (each RayExecutor joins it, none stops it)."""
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'traitforge[ray]'")
    pytest.importorskip("ray.data", reason="Ray Data is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _texts(n: int, seed: int) -> tuple[list[str], list[str]]:
    rows, _ = generate(n, seed, 0.2)
    return ([r["messages"][1]["content"] for r in rows], [r["messages"][0]["content"] for r in rows])


def test_ray_maps_blocks_in_block_order(ray_here):
    with running_on("local") as executor:
        assert current() is executor and executor.name == "ray"
        assert executor.map(lambda x: x * x, list(range(7))) == [0, 1, 4, 9, 16, 25, 36]
    assert current().name == "local"


def test_ngram_counts_of_many_blocks_on_ray_equal_local(ray_here):
    """Five blocks counted on Ray workers, merged on the driver: the counts of one process."""
    texts, prompts = _texts(500, 1)
    local = count_slot("body", texts, prompts, 4, 5, block=100)
    wanted = {2: local.stats.filter(pl.col("n") == 2)["key"].head(30)}
    here = pairs_in(Blocks(texts, prompts, block=100), wanted)
    with running_on("local"):
        on_ray = count_slot("body", texts, prompts, 4, 5, block=100)
        kept = count_slot("body", texts, prompts, 4, 1, keep=local.stats.select("key"), block=100)
        there = pairs_in(Blocks(texts, prompts, block=100), wanted)
    assert_frame_equal(local.stats, on_ray.stats)
    assert_frame_equal(here, there)
    assert kept.stats.height >= local.stats.height


def test_ray_audit_is_the_local_audit(ray_here, write_jsonl, tmp_path):
    rows, _ = generate(600, 3, 0.25)
    corpus = write_jsonl("c.jsonl", rows)
    reference = write_jsonl("r.jsonl", generate(600, 4, 0.0)[0])
    # the last one is a sample of 200 records, counted in all 600 by a census on Ray
    for ref, sample in ((None, 20000), (str(reference), 20000), (str(reference), 200)):
        config = AuditConfig(corpus=str(corpus), reference=ref, builtin=False, sample=sample)
        docs = [audit_document(run_audit(c), created_at="then")
                for c in (config, replace(config, ray="local"))]
        assert [d.pop("executor") for d in docs] == ["local", "ray"]
        for d in docs:
            d.pop("seconds")
        assert docs[0]["findings"], "the planted opener is found"
        assert json.dumps(docs[0], sort_keys=True) == json.dumps(docs[1], sort_keys=True)


def test_ray_missing_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    with pytest.raises(InputError, match=r"pip install 'traitforge\[ray\]'"):
        RayExecutor("local")
