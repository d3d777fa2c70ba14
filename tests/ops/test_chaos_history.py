"""scripts/soak/history.py: the fleet's promise checked on hand-made histories.

Two instances `a` and `b`, both ready from 0 to 10 s unless a test says
otherwise, N (settle) 100 ms; times in seconds. No servers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scripts.soak.history import Op, Window, both_ready, check_history, settled, tag_of

BOTH_READY: dict[str, list[Window]] = {"a": [(0.0, 10.0)], "b": [(0.0, 10.0)]}


def put(instance: str, key: str, value: str, start: float, end: float, status: int = 204) -> Op:
    return Op(instance, "PUT", key, value, status, start, end)


def delete(instance: str, key: str, start: float, end: float) -> Op:
    return Op(instance, "DELETE", key, None, 204, start, end)


def get(instance: str, key: str, value: str | None, start: float, end: float,
        status: int | None = None) -> Op:
    answered = status if status is not None else (200 if value is not None else 404)
    return Op(instance, "GET", key, value, answered, start, end, source="hit-memory")


def kinds(ops: Sequence[Op], ready: Mapping[str, Sequence[Window]] = BOTH_READY,
          settle_s: float = 0.1) -> list[str]:
    return [v.kind for v in check_history(ops, ready, settle_s=settle_s)]


def test_a_hit_on_a_value_an_acknowledged_put_replaced_fails() -> None:
    history = [put("a", "k", "a-1", 1.0, 1.01), put("a", "k", "a-2", 2.0, 2.01),
               get("b", "k", "a-1", 3.0, 3.001)]
    violations = check_history(history, BOTH_READY)
    assert [v.kind for v in violations] == ["stale_read"]
    assert violations[0].instance == "b" and "a-2" in violations[0].detail


def test_a_hit_on_a_value_an_acknowledged_delete_replaced_fails() -> None:
    history = [put("a", "k", "a-1", 1.0, 1.01), delete("a", "k", 2.0, 2.01),
               get("b", "k", "a-1", 3.0, 3.001)]
    assert kinds(history) == ["stale_read"]


def test_a_history_of_writes_and_misses_only_passes() -> None:
    history = [put("a", "k", "a-1", 1.0, 1.01), delete("b", "k", 2.0, 2.01),
               get("a", "k", None, 1.5, 1.6), get("b", "k", None, 3.0, 3.001),
               get("a", "j", None, 4.0, 4.001)]
    assert kinds(history) == []


def test_the_latest_acknowledged_value_passes() -> None:
    history = [put("a", "k", "a-1", 1.0, 1.01), put("b", "k", "b-2", 2.0, 2.01),
               get("a", "k", "b-2", 3.0, 3.001), get("b", "k", "b-2", 3.0, 3.001)]
    assert kinds(history) == []


def test_a_stale_read_while_an_instance_is_not_ready_passes() -> None:
    history = [put("a", "k", "a-1", 1.0, 1.01), put("a", "k", "a-2", 2.0, 2.01),
               get("b", "k", "a-1", 3.0, 3.001)]
    b_down = {"a": [(0.0, 10.0)], "b": [(0.0, 2.5), (5.0, 10.0)]}
    assert kinds(history, b_down) == []


def test_a_stale_read_within_n_ms_of_both_becoming_ready_passes() -> None:
    history = [put("a", "k", "a-1", 1.0, 1.01), put("a", "k", "a-2", 2.0, 2.01),
               get("b", "k", "a-1", 3.05, 3.051)]
    b_back_at_3 = {"a": [(0.0, 10.0)], "b": [(0.0, 1.5), (3.0, 10.0)]}
    assert kinds(history, b_back_at_3) == []
    later = [*history[:2], get("b", "k", "a-1", 3.15, 3.151)]
    assert kinds(later, b_back_at_3) == ["stale_read"]


def test_a_get_answered_after_its_link_left_ready_is_not_held_to_the_promise() -> None:
    history = [put("a", "k", "a-1", 1.0, 1.01), put("a", "k", "a-2", 2.0, 2.01),
               get("b", "k", "a-1", 3.0, 3.3)]
    b_drops_mid_get = {"a": [(0.0, 10.0)], "b": [(0.0, 3.2)]}
    assert kinds(history, b_drops_mid_get) == []


def test_a_put_concurrent_with_the_get_or_the_replacement_passes() -> None:
    # b-2 overlaps the GET; a-3 overlaps a-1's PUT: neither replaced what was read.
    history = [put("a", "k", "a-1", 1.0, 1.5), put("a", "k", "a-3", 1.2, 1.3),
               put("b", "k", "b-2", 2.0, 3.5), get("a", "k", "a-1", 3.0, 3.001),
               get("b", "k", "b-2", 3.0, 3.001)]
    assert kinds(history) == []


def test_a_replacement_that_failed_or_was_still_running_does_not_count() -> None:
    history = [put("a", "k", "a-1", 1.0, 1.01), put("a", "k", "a-2", 2.0, 2.01, status=400),
               put("b", "k", "b-3", 2.5, 3.2), get("b", "k", "a-1", 3.0, 3.001)]
    assert kinds(history) == ["unexpected_status"]


def test_a_value_no_put_wrote_fails_even_while_not_ready() -> None:
    history = [put("a", "k", "a-1", 1.0, 1.01), get("b", "k", "zz-9", 3.0, 3.001),
               get("b", "j", "a-1", 3.0, 3.001)]
    assert kinds(history, {"a": [], "b": []}) == ["phantom_value", "phantom_value"]


def test_a_value_from_a_put_that_began_after_the_get_ended_fails() -> None:
    history = [get("b", "k", "a-1", 1.0, 1.001), put("a", "k", "a-1", 2.0, 2.01)]
    assert kinds(history, {"a": [], "b": []}) == ["future_value"]


def test_a_5xx_and_a_transport_error_fail_whatever_the_links_did() -> None:
    history = [get("a", "k", None, 1.0, 1.01, status=503),
               Op("b", "PUT", "k", "b-1", None, 2.0, 2.5, error="ServerDisconnectedError")]
    assert kinds(history, {"a": [], "b": []}) == ["server_error", "transport_error"]


def test_the_ready_windows_of_all_instances_intersect() -> None:
    ready = {"a": [(0.0, 4.0), (5.0, 9.0)], "b": [(1.0, 6.0)], "c": [(0.0, 5.5)]}
    assert both_ready(ready) == [(1.0, 4.0), (5.0, 5.5)]
    assert settled(both_ready(ready), 1.0) == [(2.0, 4.0)]
    assert both_ready({"a": [(0.0, 1.0)]}) == [(0.0, 1.0)]


def test_a_request_refused_while_its_instance_was_stopped_on_purpose_is_excused() -> None:
    """scripts/soak/restarts.py stops an instance: what got no answer then
    promised nothing; an answered request and another instance's errors
    still count, and so does the value of a write made before the stop."""
    refused = Op("a", "PUT", "k", "a-2", None, 2.0, 2.001, error="ClientConnectorError")
    in_flight = Op("a", "GET", "k", None, None, 1.9, 2.1, error="ServerDisconnectedError")
    elsewhere = Op("b", "GET", "k", None, None, 2.0, 2.001, error="ClientConnectorError")
    down = {"a": [(2.0, 3.0)]}
    history = [refused, in_flight, elsewhere, delete("a", "j", 1.0, 1.01),
               get("b", "j", None, 4.0, 4.001)]
    assert [v.kind for v in check_history(history, BOTH_READY, down=down)] == [
        "transport_error"]
    stale = [put("a", "k", "a-1", 0.5, 0.51), delete("a", "k", 1.0, 1.01),
             get("a", "k", "a-1", 4.0, 4.001)]
    assert [v.kind for v in check_history(stale, BOTH_READY, down=down)] == ["stale_read"]


def invalidate(instance: str, tag: str, start: float, end: float, status: int = 200) -> Op:
    return Op(instance, "INVALIDATE", tag, None, status, start, end)


def test_a_hit_on_a_value_whose_tag_an_acknowledged_invalidation_covers_fails() -> None:
    assert (tag_of("k00"), tag_of("k03"), tag_of("k04")) == ("g0", "g0", "g1")
    history = [put("a", "k03", "a-1", 1.0, 1.01), invalidate("a", "g0", 2.0, 2.01),
               get("b", "k03", "a-1", 3.0, 3.001)]
    violations = check_history(history, BOTH_READY)
    assert [v.kind for v in violations] == ["invalidated_read"]
    assert "a INVALIDATE g0" in violations[0].detail


def test_an_invalidation_allows_what_it_does_not_cover_or_was_not_over() -> None:
    assert kinds([put("a", "k04", "a-1", 1.0, 1.01), invalidate("a", "g0", 2.0, 2.01),
                  get("b", "k04", "a-1", 3.0, 3.001)]) == []  # another tag
    assert kinds([put("a", "k03", "a-1", 1.0, 1.01), invalidate("a", "g0", 2.0, 3.5),
                  get("b", "k03", "a-1", 3.0, 3.001)]) == []  # not acknowledged yet
    assert kinds([put("a", "k03", "a-1", 1.0, 2.5), invalidate("a", "g0", 2.0, 2.01),
                  get("b", "k03", "a-1", 3.0, 3.001)]) == []  # concurrent with the PUT
    assert kinds([put("a", "k03", "a-1", 1.0, 1.01), invalidate("a", "g0", 2.0, 2.01),
                  put("b", "k03", "b-2", 2.5, 2.51),
                  get("b", "k03", "b-2", 3.0, 3.001)]) == []  # written after it
    assert kinds([put("a", "k03", "a-1", 1.0, 1.01), invalidate("a", "g0", 2.0, 2.01, 503)],
                 ) == ["server_error"]
