"""Schemathesis against a running service, bounded and reproducible.

    GET /openapi.json ─► a value stored under its example key
                      ─► schemathesis schema ─► for each operation:
        hypothesis, derandomized (fixed seed), no database, no shrinking,
        `examples` positive cases (valid by the document) then as many
        negative ones (invalid: the service must refuse them with a 4xx)
        ─► each case sent with a per-request timeout (a hang fails it)
        ─► every check schemathesis has: no 5xx, status codes, headers,
           content types and bodies as documented, valid requests accepted,
           auth enforced, 405s (negative cases: see _runner)

Failures are collected, not raised at the first one, so one run lists
every operation that does not answer as documented.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import APIOperation, Case, GenerationMode, checks
from schemathesis.core.result import Err
from schemathesis.generation.hypothesis.builder import add_examples

REQUEST_TIMEOUT_S = 5.0


@dataclass
class FuzzReport:
    """What one run sent, and the failures it found (operation: message)."""

    cases: int = 0
    failures: dict[str, str] = field(default_factory=dict)


def _document(base_url: str, headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(base_url + "/openapi.json", headers=headers)
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as answer:
        document: dict[str, Any] = json.load(answer)
    return document


def _seed(base_url: str, headers: dict[str, str], document: dict[str, Any]) -> None:
    """Store a value under the document's example namespace and key, so that
    the explicit cases (the examples come first) read a hit: random keys
    almost always miss, and a hit's answer is the one most worth checking."""
    parameters = document["components"]["parameters"]
    path = f"/cache/{parameters['namespace']['example']}/{parameters['key']['example']}"
    request = urllib.request.Request(
        base_url + path, data=b'{"seeded": true}', method="PUT",
        headers={**headers, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as answer:
        assert answer.status == 204


def _runner(
    report: FuzzReport, base_url: str, headers: dict[str, str], mode: GenerationMode
) -> Callable[[Case], None]:
    # Negative cases are held to every check but "invalid data must be
    # refused": schemathesis counts an unknown query parameter as invalid
    # (the service ignores those, as HTTP services do), and its "no
    # Authorization" mutation is undone by the token this runner adds. They
    # must still get a documented answer, never a 5xx.
    excluded = [checks.negative_data_rejection] if mode == GenerationMode.NEGATIVE else []

    def send(case: Case) -> None:
        report.cases += 1
        case.call_and_validate(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S,
                               excluded_checks=excluded)

    return send


def _modes(operation: APIOperation) -> tuple[GenerationMode, ...]:
    """Positive, and negative when there is an input to make invalid
    (without one, hypothesis would search a while before saying so)."""
    raw = operation.definition.raw
    if raw.get("parameters") or raw.get("requestBody"):
        return (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    return (GenerationMode.POSITIVE,)


def fuzz(base_url: str, headers: dict[str, str], examples: int) -> FuzzReport:
    """Run the document's every operation against `base_url`."""
    document = _document(base_url, headers)
    _seed(base_url, headers, document)
    schema = schemathesis.openapi.from_dict(document)
    report = FuzzReport()
    settings = hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # the document itself is broken
            raise result.err()
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        for mode in _modes(operation):
            send = _runner(report, base_url, headers, mode)
            run = hypothesis.given(case=operation.as_strategy(mode))(send)
            if mode == GenerationMode.POSITIVE:  # the document's examples first
                run = add_examples(run, operation, fill_missing=True)
            run = settings(run)
            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                continue  # no input can be invalid (a free-form Accept header)
            except (Exception, BaseExceptionGroup) as exc:  # every failure is reported
                report.failures[f"{name} ({mode.value})"] = str(exc)
    return report
