"""Live training display: a rich progress bar with loss and throughput."""
from __future__ import annotations

import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from transformers import TrainerCallback


class RichProgress(TrainerCallback):
    def __init__(self, console, disable: bool = False):
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                                 TimeRemainingColumn(), console=console, disable=disable)
        self.task = None
        self._t0: tuple[float, int] | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.progress.start()
        self.task = self.progress.add_task("training", total=state.max_steps,
                                           completed=state.global_step, info="")

    def on_step_end(self, args, state, control, **kwargs):
        self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" not in logs or self.task is None:
            return
        info = f"loss {logs['loss']:.4f}"
        if "num_tokens" in logs:
            now, n = time.perf_counter(), int(logs["num_tokens"])
            self._t0 = self._t0 or (now, n)
            if now > self._t0[0]:
                info += f"  {(n - self._t0[1]) / (now - self._t0[0]):.0f} tok/s"
        self.progress.update(self.task, info=info)

    def on_train_end(self, args, state, control, **kwargs):
        self.progress.stop()
