"""scripts/bench: the service against bare aiohttp and redis-py handlers, and
what a Redis outage costs; plus the before/after comparison (ab.py).

    cli.py        the command line, `python -m scripts.benchmark` (scripts/bench)
    sections.py   which servers each section starts and what it measures
    compare.py    side-by-side and one-after-the-other rounds; outage.py the outage rounds
    load.py       wrk (wrk.py writes its Lua) or Python workers (pyload.py)
    processes.py  the child processes (redis-server through tests/support's harness)
    memory.py     the in-process memory-tier micro-benchmark; tier.py its one service import
    baselines.py  the bare handlers; workloads.py, targets.py, report.py

The service is only ever started as a process (`python -m service` from a
given checkout) and spoken to over HTTP; tier.py is the one exception.
"""
