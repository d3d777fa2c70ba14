"""The failover drill (scripts/failover-drill): the guide's "Test Redis
Failover" and "Test Cache Recovery" against a running service, over HTTP only.

Standard library only: plain python3 runs it on any host that reaches the
service, without the project's virtualenv.
"""
