"""What /proc says of a process, read as it changes: a thread that ends or
an fd closed between listing and reading is simply not there."""

from __future__ import annotations

import os
from pathlib import Path


def children(pid: int) -> set[int]:
    """The process ids of `pid`'s children (every thread's)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.update(int(c) for c in (task / "children").read_text().split())
        except FileNotFoundError:  # the thread ended since it was listed
            continue
    return found


def open_files(pid: int, directory: Path) -> list[Path]:
    """The files in `directory` that process `pid` holds open."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            path = Path(os.readlink(fd))
        except FileNotFoundError:  # closed since it was listed (a reconnect's socket)
            continue
        if path.parent == directory:
            found.append(path)
    return found
