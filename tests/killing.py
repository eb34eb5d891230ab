"""Running the CLI in a child process that SIGKILLs itself just after the trainer has written
a given checkpoint: a kill at a known step, with no race against a poll."""
from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import os, signal, sys
from transformers import Trainer
from traitforge.cli import main

step, argv = int(sys.argv[1]), sys.argv[2:]
save = Trainer._save_checkpoint

def save_then_die(self, *args, **kwargs):
    save(self, *args, **kwargs)
    if self.state.global_step == step:
        os.kill(os.getpid(), signal.SIGKILL)

Trainer._save_checkpoint = save_then_die
sys.exit(main(argv))
"""


def killed_after_checkpoint(step: int, argv: list[str]) -> subprocess.CompletedProcess:
    """Run `traitforge ARGV` until the trainer has saved checkpoint-STEP, then SIGKILL it."""
    return subprocess.run([sys.executable, "-c", SCRIPT, str(step), *argv],
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True)
