"""The document model: what a reader sees, independent of the format it is printed in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Table:
    """A table; ``group`` rows (a tuple of one cell) start a titled block within it."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""
    groups: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = ()
    """Rows grouped under a heading each (objects by location and layer); when set, ``rows``
    holds the same rows flattened, for CSV and Markdown."""


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """Data for one chart; drawn as SVG when the document is rendered."""

    title: str
    kind: Literal["bar", "barh", "line"]
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    unit: str = ""
    percent: bool = False


@dataclass(frozen=True, slots=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    paragraphs: tuple[str, ...] = ()
    facts: tuple[Fact, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()


@dataclass(frozen=True, slots=True)
class Signature:
    party: str
    role: str


@dataclass(frozen=True, slots=True)
class Document:
    kind: Literal["appendix", "closure-report", "monthly-report"]
    title: str
    subtitle: str
    stamp: str
    """Printed in the header of every page (contract version and content hash, incident id)."""
    facts: tuple[Fact, ...] = ()
    sections: tuple[Section, ...] = ()
    signatures: tuple[Signature, ...] = ()
    footnote: str = ""
    landscape: bool = False
    meta: dict[str, str] = field(default_factory=dict)
