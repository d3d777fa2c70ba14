"""The instance view HTTP handlers show with WORKERS > 1: several processes
answering as one instance.

    peers.py            each worker's socket for its siblings, and asking them
    exposition.py       /metrics for the instance: the workers' figures merged
    instance_health.py  /health/detailed for the instance: each worker's link

Standard library and prometheus-client only: the process side that starts
the workers is service/workers/.
"""
