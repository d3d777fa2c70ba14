"""WORKERS > 1: the process side of several processes serving the one port.

    gunicorn_app.py   the arbiter (gunicorn's, with this service's options,
                      signals, slots and temp directory)
    worker.py         one worker: the app, the drain, SIGHUP, the heartbeat

What the handlers show of the instance (each worker's socket for its
siblings, the merged /metrics and /health/detailed) is service/http/instance/.
WORKERS=1 serves from service.server as before and never imports gunicorn:
only gunicorn_app.py and worker.py do, and service.__main__ imports them
with WORKERS > 1 alone.
"""
