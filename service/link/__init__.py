"""The Redis link: how a client is obtained, how errors are classified, and
the supervisor that drives the connection state machine with real I/O."""
