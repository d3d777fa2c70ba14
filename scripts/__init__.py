"""The code behind the commands in scripts/ (see scripts/README.md).

    redisops/   backup-redis, restore-redis, check-production (standard library only)
    drill/      failover-drill (standard library only)
    benchmark/  bench, and the before/after comparison `scripts/bench --compare REF`
    soak/       chaos
    runner/     the main() skeleton bench and chaos share (not in the wheel)

Each command file stays a few lines: it puts the checkout on sys.path and
calls a package's `main(argv)`.
"""
