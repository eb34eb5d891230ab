"""Where an audit's per-block work runs: in this process, or as Ray Data tasks.

The work on one block of units (counting its n-grams, splitting and abstracting its sentences,
embedding them) is a function of that block alone; the executor only decides where those
functions run, as datatrove keeps its steps apart from its executors. `LocalExecutor` maps them
here, one block after another. `RayExecutor` makes a Ray Data dataset of the blocks and maps the
function over it with `map_batches`, on a Ray instance started here or a cluster's. Results come
back in block order and every block's result depends on that block only, so an audit's findings
are the same, bit for bit, wherever the blocks ran. The global steps (tests, families, cluster
fitting, reconciliation) stay on the driver.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Callable, Sequence

from traitforge.io import InputError


class LocalExecutor:
    """Each block in this process, in order."""

    name = "local"

    def map(self, fn: Callable, items: Sequence) -> list:
        return [fn(x) for x in items]

    def close(self) -> None:
        pass


class RayExecutor:
    """Each block as a Ray Data task (`map_batches`, one block per batch).

    `address` is "local" (a Ray instance started here, stopped on close), "auto" (the cluster
    this machine belongs to) or a cluster's address (ray://HOST:10001)."""

    name = "ray"

    def __init__(self, address: str = "local"):
        try:
            import ray
        except ImportError:
            raise InputError("--ray needs Ray Data: pip install 'traitforge[ray]' "
                             "(or pip install 'ray[data]')") from None
        self._ray = ray
        self._started = not ray.is_initialized()
        logging.getLogger("ray").setLevel(logging.ERROR)  # its notices say nothing to a user
        try:
            ray.init(address=None if address == "local" else address, include_dashboard=False,
                     log_to_driver=False, ignore_reinit_error=True,
                     logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise InputError(f"--ray {address}: could not connect to Ray ({e})") from None
        from ray.data import DataContext

        logging.getLogger("ray.data").setLevel(logging.ERROR)
        context = DataContext.get_current()
        context.enable_progress_bars = False
        context.execution_options.preserve_order = True

    def map(self, fn: Callable, items: Sequence) -> list:
        if not items:
            return []
        import numpy as np
        import ray.data

        def run(batch: dict) -> dict:
            done = [pickle.dumps(fn(pickle.loads(x))) for x in batch["item"]]
            return {"i": batch["i"], "out": np.array(done, dtype=object)}

        rows = [{"i": i, "item": pickle.dumps(x)} for i, x in enumerate(items)]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows))
        done = ds.map_batches(run, batch_size=1, batch_format="numpy").take_all()
        return [pickle.loads(r["out"]) for r in sorted(done, key=lambda r: r["i"])]

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()


_current: LocalExecutor | RayExecutor = LocalExecutor()


def current() -> LocalExecutor | RayExecutor:
    """The executor the audit in progress maps its blocks with."""
    return _current


@contextmanager
def running_on(address: str | None):
    """Map an audit's blocks on Ray at `address` (see RayExecutor), or here when None."""
    global _current
    executor = RayExecutor(address) if address else LocalExecutor()
    before, _current = _current, executor
    try:
        yield executor
    finally:
        _current = before
        executor.close()


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextmanager
def one_blas_thread():
    """BLAS on one thread for the duration: an audit's own threads (and polars') already fill
    the cores, and OpenBLAS's pool spinning beside them makes its small products and
    eigendecompositions (the clustering's PCA) ten to twenty times slower. The limit is the
    process's: audits run at once in threads of one process share it, and the first to end
    lifts it for the others."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        yield


class _SpawnedProcess(multiprocessing.context.SpawnProcess):
    """A spawned process that does not run the main module again (a spawned one imports it
    first, as `__mp_main__`): not a script without an `if __name__ == "__main__"` guard, which
    would start its own audit again there, nor the whole command line (its imports, about a
    second), since every function it is given lives in traitforge's modules."""

    def start(self) -> None:
        main = vars(sys.modules["__main__"]) if "__main__" in sys.modules else {}
        names = ("__spec__", "__file__")  # what multiprocessing reads to name the main module
        saved = {name: main[name] for name in names if name in main}
        main["__spec__"] = None  # read as an attribute: None, not absent
        main.pop("__file__", None)
        try:
            super().start()
        finally:
            main.update(saved)


class _SpawnContext(multiprocessing.context.SpawnContext):
    Process = _SpawnedProcess


def spawn_pool(workers: int) -> ProcessPoolExecutor:
    """`workers` fresh (spawned) processes that leave Ctrl-C to this one."""
    return ProcessPoolExecutor(workers, mp_context=_SpawnContext(),
                               initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))
