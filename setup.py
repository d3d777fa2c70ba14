"""Compiles the memory tier with mypyc; metadata lives in setup.cfg.

The memory tier's get and put run on every cache request; compiled, a get
takes ~100 ns instead of ~140 ns (see README, Performance). Without mypyc or
a C compiler the package installs as plain Python and behaves the same.
scripts/_venv.sh re-installs when any file named in COMPILED changes, so
the extension modules built next to them never go stale.
"""

import hashlib
import os
import shutil
import sys
from pathlib import Path

from setuptools import setup

COMPILED = ["service/cache/memory.py", "service/cache/entry.py"]
SOURCES_RECORD = "service/cache/compiled-sources.sha256"


def compiled_modules() -> list:
    compiler = os.environ.get("CC", "cc").split()[0]
    try:
        from mypyc.build import mypycify
    except ImportError:
        return as_python("mypyc is not available")
    if os.environ.get("ROLEREADY_PURE_PYTHON") == "1":
        return as_python("ROLEREADY_PURE_PYTHON=1")
    if shutil.which(compiler) is None:
        return as_python(f"no C compiler ({compiler})")
    record_compiled_sources()
    # separate=True: each module's runtime library stays in its package
    # directory instead of a shared one at the top of the tree.
    return mypycify(COMPILED, opt_level="3", separate=True)


def as_python(reason: str) -> list:
    """No extensions; and none left from an earlier build, which would shadow the sources."""
    print(f"setup.py: {reason}; installing the memory tier as Python", file=sys.stderr)
    for source in map(Path, COMPILED):
        for built in source.parent.glob(f"{source.stem}.*.so"):
            built.unlink()
        for built in source.parent.glob(f"{source.stem}__mypyc.*.so"):
            built.unlink()
    Path(SOURCES_RECORD).unlink(missing_ok=True)
    return []


def record_compiled_sources() -> None:
    """What was compiled, by content: tests/service/test_compiled_tier.py
    compares it with the sources to catch an extension that shadows a newer
    source (an editable install builds it next to the .py)."""
    lines = [f"{hashlib.sha256(Path(source).read_bytes()).hexdigest()}  {source}\n"
             for source in COMPILED]
    Path(SOURCES_RECORD).write_text("".join(lines))


setup(ext_modules=compiled_modules())
