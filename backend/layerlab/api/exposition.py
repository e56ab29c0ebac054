"""The Prometheus text format (version 0.0.4), written by hand: a few families of samples."""

import math
from collections.abc import Iterable, Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = Mapping[str, str]
Sample = tuple[Labels, float]  # (labels, value) of a family's one-name samples


class Exposition:
    """Families of samples, each with its # HELP and # TYPE lines, as a scraper reads them."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._names: set[str] = set()

    def gauge(self, name: str, help_text: str, samples: Iterable[Sample] | float) -> None:
        self._family(name, "gauge", help_text, [(name, s) for s in _samples(samples)])

    def counter(self, name: str, help_text: str, samples: Iterable[Sample] | float) -> None:
        """A counter's samples are named `name` itself, which ends in `_total`."""
        if not name.endswith("_total"):
            raise ValueError(f"counter names end in _total; got {name!r}")
        self._family(name, "counter", help_text, [(name, s) for s in _samples(samples)])

    def summary(
        self, name: str, help_text: str, totals: Iterable[tuple[Labels, float, int]]
    ) -> None:
        """A summary without quantiles: `name_sum` and `name_count` for each set of labels."""
        samples: list[tuple[str, Sample]] = []
        for labels, total, count in totals:
            samples += [(f"{name}_sum", (labels, total)), (f"{name}_count", (labels, count))]
        self._family(name, "summary", help_text, samples)

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"

    def _family(
        self, name: str, kind: str, help_text: str, samples: list[tuple[str, Sample]]
    ) -> None:
        if name in self._names:
            raise ValueError(f"metric family {name!r} written twice")
        self._names.add(name)
        self._lines.append(f"# HELP {name} {_escape_help(help_text)}")
        self._lines.append(f"# TYPE {name} {kind}")
        for sample_name, (labels, value) in samples:
            self._lines.append(f"{sample_name}{_label_text(labels)} {_number(value)}")


def _samples(samples: Iterable[Sample] | float) -> list[Sample]:
    return [({}, float(samples))] if isinstance(samples, int | float) else list(samples)


def _label_text(labels: Labels) -> str:
    if not labels:
        return ""
    pairs = ",".join(f'{key}="{_escape_label(str(value))}"' for key, value in labels.items())
    return "{" + pairs + "}"


def _escape_label(value: str) -> str:
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))
