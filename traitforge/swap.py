"""Replacing a whole output directory at once, so that a reader (or a kill) sees either the old
set of files or the new one, never a mix.

`staged_dir(out)` yields an empty sibling directory to write the new set into; on success it
swaps that directory with `out` in one rename (Linux `renameat2` with RENAME_EXCHANGE) and
deletes the old set. Where the exchange is not available, `out` is moved aside and the new set
moved in: two renames, between which `out` is briefly absent. Entries named in `keep` (a cache,
say) move from the old set into the new one. An `out` that is a file, or that holds anything
not named in `owned` or `keep`, is refused: the swap would delete it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from traitforge.errors import InputError
from traitforge.io import current_umask

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step; False where the system cannot."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _stale(out: Path) -> list[Path]:
    """Staging directories a killed run left beside `out`."""
    return list(out.parent.glob(f".{out.name}.new-*"))


def check_replaceable(out: str | Path, owned: tuple[str, ...], keep: tuple[str, ...] = ()) -> None:
    """Refuse an `out` that `staged_dir` could not replace without losing something."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file, not a directory; choose another --out")
    foreign = sorted(p.name for p in out.iterdir() if p.name not in owned + keep) \
        if out.is_dir() else []
    if foreign:
        raise InputError(f"{out}: holds {foreign[0]!r}, which is not one of its outputs; "
                         "choose a new or empty --out")


@contextmanager
def staged_dir(out: str | Path, owned: tuple[str, ...], keep: tuple[str, ...] = ()):
    out = Path(out).resolve()  # a link to a folder: replace the folder, not the link
    check_replaceable(out, owned, keep)
    out.parent.mkdir(parents=True, exist_ok=True)
    for old in _stale(out):
        shutil.rmtree(old, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.new-"))
    try:
        os.chmod(stage, 0o777 & ~current_umask())
        yield stage
        if not out.exists():
            os.rename(stage, out)
        elif _exchange(stage, out):  # `stage` now holds the old set
            _carry(stage, out, keep)
        else:
            _carry(out, stage, keep)
            aside = stage.with_name(stage.name + "-old")
            os.rename(out, aside)
            os.rename(stage, out)
            shutil.rmtree(aside, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _carry(src: Path, dst: Path, names: tuple[str, ...]) -> None:
    for name in names:
        if (src / name).exists() and not (dst / name).exists():
            os.rename(src / name, dst / name)
