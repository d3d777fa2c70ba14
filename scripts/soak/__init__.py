"""What scripts/chaos runs: a chaos soak of a two-instance fleet and the
checkers of its history (`history.py`, `journal.py`: pure, unit tested).

Named `soak`, not `chaos`: the command `scripts/chaos` takes that name in
this folder.
"""
