"""Which key a command is about, for a cluster's routing by slot.

Every command this service sends names its key first (GET, PTTL, SET,
DEL), after the script and the key count (EVAL), or names none (PING,
INFO and the like, which any master may answer). ASK allows exactly one command on a slot being imported, so each
command of a redirected batch is preceded by its own ASKING.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.link.session import OptionalCommand, Request

# Commands that name no key: sent to any ready master.
KEYLESS = frozenset({"PING", "INFO", "CONFIG", "SCAN", "CLIENT", "CLUSTER", "DBSIZE", "TIME"})


def key_of(command: Request) -> bytes | str | None:
    """The key `command` is about; None for a command about no key."""
    args = command.args if isinstance(command, OptionalCommand) else command
    name = args[0]
    verb = (name.decode() if isinstance(name, bytes) else str(name)).upper()
    if verb in KEYLESS:
        return None
    # EVAL script numkeys key...: a script's keys share one slot (docs/high-availability.md).
    key = args[3] if verb in ("EVAL", "EVALSHA") else args[1]
    return key if isinstance(key, bytes | str) else str(key)


def after_asking(commands: Sequence[Request]) -> list[Request]:
    """Each command preceded by ASKING; its replies are every second one."""
    return [part for command in commands for part in (("ASKING",), command)]
