"""The one process harness: real redis-server, Sentinel and Cluster processes
and the service as a child process, on free loopback ports, with the polling
helper they wait with. The tests, the benchmark and the soak import it; it
stays in the checkout (not in the wheel), like scripts/runner."""


class ProcessError(RuntimeError):
    """A redis-server or another child process would not start or answer."""
