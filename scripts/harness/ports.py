"""Free loopback ports for servers the tests start."""

from __future__ import annotations

import socket


def free_port(maximum: int | None = None, *, also_free: tuple[int, ...] = ()) -> int:
    """A port nothing listens on right now (the kernel's pick).

    `maximum` bounds it (a Redis Cluster node's bus port is port + 10000, so
    its port must be at most 55535); `also_free` are offsets whose ports must
    be free too (the bus port: `also_free=(10000,)`). The kernel picks from
    the ephemeral range (32768-60999 by default), so a bound rejects some
    picks: ask again, a bounded number of times.
    """
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if maximum is not None and port > maximum:
            continue
        if all(_bindable(port + offset) for offset in also_free):
            return port
    raise RuntimeError(f"no free loopback port at or below {maximum} (with {also_free} free)")


def _bindable(port: int) -> bool:
    if port > 65535:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def unread_bytes(port: int) -> int:
    """Bytes clients sent to the server on loopback `port` that it has not
    read yet (Linux /proc/net/tcp, the server sides' receive queues): a
    SIGSTOPped Redis leaves every command sent to it there."""
    total = 0
    with open("/proc/net/tcp") as table:
        next(table)  # header
        for line in table:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            state_established = fields[3] == "01"
            if local_port == port and state_established:
                total += int(fields[4].split(":")[1], 16)
    return total
