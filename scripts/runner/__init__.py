"""The main() skeleton scripts/bench and scripts/chaos share: a run
directory (removed at the end unless kept, or the run could not be made),
SIGTERM and SIGHUP unwinding as Ctrl-C does, and the exit codes of a run
that could not be made and of an interrupted one. Whatever it started, the
work stops itself on the way out (a `finally`, a `with`). A package of its
own so that the wheel, which carries `scripts` for the ops commands, leaves
it out with the two commands that use it.
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType

EXIT_INTERRUPTED = 130


class Interrupted(Exception):
    """SIGTERM or SIGHUP arrived: unwind as Ctrl-C would."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def run(prog: str, work: Callable[[Path], int], *, keep: bool,
        failures: tuple[type[Exception], ...], failed: int) -> int:
    """`work(run_dir)`'s exit code; `failed` (the directory kept for its logs)
    when it raises one of `failures`; 130 when interrupted."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    # Also when started in the background, where SIGINT arrives ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    run_dir = Path(tempfile.mkdtemp(prefix=f"roleready-{Path(prog).name}-"))
    try:
        return work(run_dir)
    except failures as exc:
        print(f"{prog}: {exc}\n(logs in {run_dir})", file=sys.stderr)
        keep = True
        return failed
    except (KeyboardInterrupt, Interrupted):
        print(f"{prog}: interrupted; everything it started is stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)
