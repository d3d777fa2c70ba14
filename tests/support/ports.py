"""Free loopback ports for servers the tests start."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
