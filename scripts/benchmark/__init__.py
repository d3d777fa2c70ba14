"""scripts/bench: the service against bare aiohttp and redis-py handlers and
Webdis, what a Redis outage costs, and (--compare) two trees side by side.

    cli.py        the command line, `python -m scripts.benchmark` (scripts/bench)
    sections.py   the sections, in order; each in its own module
    compare.py    side-by-side and one-after-the-other rounds; ab.py two trees
    load.py       the load driver: wrk
    processes.py  every child process (scripts/harness/'s), what the bench asks
                  of them and of the OS; the bench's own HTTP requests
    report.py     the one table writer (every section gives rows) and the targets

The service is only ever started as a process (`python -m service` from a
given checkout) and spoken to over HTTP; memory.py, run as its own process
from the checkout under test, is the one exception (also the home of
`python -m scripts.benchmark.memory tags`). Each helper process (herd, memory) prints its figures as one `emit()` line.
"""

import json
import sys
from typing import Any

RESULT_MARK = "BENCH_JSON "


def emit(result: Any) -> int:
    """A helper process's figures as its one result line; its exit code."""
    sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
    return 0
