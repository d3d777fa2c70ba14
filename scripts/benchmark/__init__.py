"""scripts/bench: the service measured against bare handlers and Webdis,
section by section (sections.py), or two trees side by side (ab.py).

Method, figures and caveats: docs/performance.md. Helper processes (herd,
memory) print their figures as one `emit()` line.
"""

import json
import sys
from typing import Any

RESULT_MARK = "BENCH_JSON "


def emit(result: Any) -> int:
    """A helper process's figures as its one result line; its exit code."""
    sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
    return 0
