"""Redis operations for a Redis host: backup, restore, production checklist.

Standard library and redis-cli only, so plain python3 runs them without the
project's virtualenv; they never import the service. So they keep their own
redis-cli client (rediscli.py) rather than the checkout's scripts/harness/.
"""
