"""The Prometheus text format as written by hand, read back by the reference parser."""

import math

import pytest
from prometheus_client.parser import text_string_to_metric_families

from layerlab.api.exposition import Exposition


def test_families_read_back_with_their_help_type_labels_and_values() -> None:
    out = Exposition()
    out.gauge("demo_temperature", "A help text with a \\ and\na new line.", 21.5)
    out.counter(
        "demo_requests_total",
        "Requests.",
        [({"route": '/a/"{b}"'}, 3), ({"route": "/c\\d\ne"}, 0)],
    )
    out.summary("demo_seconds", "Time.", [({"route": "/a"}, 0.25, 2)])
    out.gauge("demo_odd", "Odd values.", [({"kind": "nan"}, math.nan), ({"kind": "inf"}, math.inf)])
    families = {family.name: family for family in text_string_to_metric_families(out.text())}

    assert families["demo_temperature"].documentation == "A help text with a \\ and\na new line."
    assert families["demo_temperature"].samples[0].value == 21.5
    requests = families["demo_requests"]
    assert requests.type == "counter"
    assert [(s.labels["route"], s.value) for s in requests.samples] == [
        ('/a/"{b}"', 3),
        ("/c\\d\ne", 0),
    ]
    timing = families["demo_seconds"]
    assert timing.type == "summary"
    assert {s.name: s.value for s in timing.samples} == {
        "demo_seconds_sum": 0.25,
        "demo_seconds_count": 2,
    }
    odd = {s.labels["kind"]: s.value for s in families["demo_odd"].samples}
    assert math.isnan(odd["nan"]) and odd["inf"] == math.inf
    assert 'demo_requests_total{route="/a/\\"{b}\\""} 3\n' in out.text()


def test_a_counter_must_end_in_total_and_a_family_appears_once() -> None:
    out = Exposition()
    with pytest.raises(ValueError, match="_total; got 'demo_requests'"):
        out.counter("demo_requests", "Requests.", 1)
    out.gauge("demo_up", "Up.", 1)
    with pytest.raises(ValueError, match="'demo_up' written twice"):
        out.gauge("demo_up", "Up.", 1)
