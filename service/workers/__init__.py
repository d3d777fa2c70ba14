"""WORKERS > 1: several processes serving the one port, described as one instance.

    gunicorn_app.py   the arbiter (gunicorn's, with this service's options,
                      signals, slots and temp directory)
    worker.py         one worker: the app, the drain, SIGHUP, the heartbeat
    peers.py          each worker's socket for its siblings, and asking them
    exposition.py     /metrics for the instance: the workers' figures merged
    instance_health.py  /health/detailed for the instance: each worker's link

WORKERS=1 serves from service.server as before and never imports gunicorn:
only gunicorn_app.py and worker.py do, and service.__main__ imports them
with WORKERS > 1 alone (the app and handlers import peers.py and the
merging modules, which need nothing but the standard library and
prometheus-client).
"""
