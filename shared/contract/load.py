"""From YAML to a validated ``Contract``, keeping going past schema errors where possible.

``parse_source`` validates the merged document against the model. When that fails it reports
every schema error as a finding with file and line, drops the offending item (the object,
party, target… that holds the error) and validates again, so that lint can still check the rest
of the contract: one object with a misspelt criticality must not hide a layer with two
primaries. Only an error outside any list or id-keyed section (a missing ``coordinator``, say)
leaves no contract to lint.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.contract.findings import FieldPath, Finding, Severity, format_path
from shared.contract.model import Contract, ContractError
from shared.contract.source import Source, read_source

_ID_KEYED = frozenset({("parties",), ("locations",), ("access_rules",), ("groups",)})
_MAX_ROUNDS = 25
# (path pattern, pydantic error type) -> a more specific code than BTN002
_SPECIFIC: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("objects", "#", "layer"), "missing", "BTN201"),
    (("escalation", "#", "triggers", "#"), "enum", "BTN410"),
)


@dataclass
class Parsed:
    """A contract read from disk: the model (if one could be built) and what went wrong."""

    source: Source
    contract: Contract | None
    findings: list[Finding] = field(default_factory=list)
    kept: dict[FieldPath, list[int]] = field(default_factory=dict)
    dropped_ids: set[str] = field(default_factory=set)

    def raw_path(self, path: FieldPath) -> FieldPath:
        """Translate a model path to the raw document's path (items may have been dropped)."""
        out = list(path)
        for index, part in enumerate(path):
            kept = self.kept.get(tuple(path[:index]))
            if isinstance(part, int) and kept is not None and part < len(kept):
                out[index] = kept[part]
        return tuple(out)

    def finding(self, code: str, message: str, path: FieldPath = ()) -> Finding:
        return self.source.finding(code, message, self.raw_path(path))


def parse_source(source: Source) -> Parsed:
    parsed = Parsed(source, None, list(source.problems))
    if any(p.code == "BTN001" for p in source.problems):
        return parsed  # a file is missing or unreadable: validating the rest would mislead
    doc = copy.deepcopy(source.data)
    for _ in range(_MAX_ROUNDS):
        try:
            parsed.contract = Contract.model_validate(doc)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            for error in errors:
                loc = tuple(p if isinstance(p, int) else str(p) for p in error["loc"])
                parsed.findings.append(_schema_finding(parsed, loc, error))
            if not _drop(parsed, doc, [tuple(e["loc"]) for e in errors]):
                return parsed
        else:
            return parsed
    return parsed  # pragma: no cover - every round drops at least one item


def parse_path(path: Path) -> Parsed:
    return parse_source(read_source(path))


def _schema_finding(parsed: Parsed, loc: FieldPath, error: Any) -> Finding:
    code = "BTN002"
    for pattern, kind, specific in _SPECIFIC:
        if error["type"] == kind and _matches(loc, pattern):
            code = specific
    message = str(error["msg"])
    if error["type"] == "missing":
        message = "required field is missing"
    elif error["type"] == "extra_forbidden":
        message = "unknown field (check the spelling; the schema refuses unknown keys)"
    elif "input" in error and not isinstance(error["input"], dict | list):
        message = f"{message} (got {error['input']!r})"
    return parsed.finding(code, message, loc)


def _matches(loc: FieldPath, pattern: tuple[str, ...]) -> bool:
    return len(loc) == len(pattern) and all(
        (p == "#" and isinstance(part, int)) or part == p
        for part, p in zip(loc, pattern, strict=True)
    )


def _drop(parsed: Parsed, doc: dict[str, Any], locs: list[tuple[Any, ...]]) -> bool:
    """Remove the outermost list item or id-keyed entry holding each error; False if one
    error is held by no such item (nothing left to salvage)."""
    list_drops: dict[FieldPath, set[int]] = {}
    key_drops: dict[FieldPath, set[str]] = {}
    for loc in locs:
        holder = _holder(doc, loc)
        if holder is None:
            return False
        prefix, part = holder
        if isinstance(part, int):
            list_drops.setdefault(prefix, set()).add(part)
        else:
            key_drops.setdefault(prefix, set()).add(part)
    for prefix, indexes in list_drops.items():
        items: list[Any] = _get(doc, prefix)
        kept = parsed.kept.get(prefix, list(range(len(items))))
        for index in sorted(indexes, reverse=True):
            item = items.pop(index)
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                parsed.dropped_ids.add(item["id"])
            del kept[index]
        parsed.kept[prefix] = kept
    for prefix, keys in key_drops.items():
        entries: dict[str, Any] = _get(doc, prefix)
        for key in keys:
            entries.pop(key, None)
            parsed.dropped_ids.add(key)
    return True


def _holder(doc: dict[str, Any], loc: tuple[Any, ...]) -> tuple[FieldPath, int | str] | None:
    """The (container path, index or key) of the outermost droppable item on ``loc``."""
    container: Any = doc
    for depth, part in enumerate(loc):
        prefix = tuple(loc[:depth])
        in_list = isinstance(container, list) and isinstance(part, int) and part < len(container)
        in_dict = isinstance(container, dict) and part in container
        if in_list:
            return prefix, part
        if in_dict and prefix in _ID_KEYED:
            return prefix, str(part)
        if not in_dict:
            return None
        container = container[part]
    return None


def _get(doc: dict[str, Any], path: FieldPath) -> Any:
    here: Any = doc
    for part in path:
        here = here[part]
    return here


def load_checked(path: Path, *, lint: bool = False) -> Contract:
    """Parse, check integrity (and with ``lint`` every rule); raise ``ContractError`` if bad."""
    from shared.contract.lint import lint_parsed

    parsed = parse_path(path)
    findings = lint_parsed(parsed)
    bad = [f for f in findings if f.severity is Severity.ERROR and (lint or f.rule.integrity)]
    if bad or parsed.contract is None:
        shown = "; ".join(str(f) for f in bad[:5]) or f"{path}: no contract could be built"
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise ContractError(f"{shown}{more}")
    return parsed.contract


__all__ = ["Parsed", "format_path", "load_checked", "parse_path", "parse_source"]
