"""How the health documents write a figure: shared by one process's
/health/detailed (health_report.py) and the instance's merge of its workers'
(instance/instance_health.py), so neither imports the other."""

from __future__ import annotations


def percent(part: float, whole: float) -> str:
    """Two decimals, no sign: "24.50"; "0.00" when `whole` is zero."""
    return f"{(100.0 * part / whole) if whole else 0.0:.2f}"
