"""Reading contract YAML with line numbers: one file, or a folder of files merged.

Every value's position is kept (``FieldPath -> (file, line)``) so a lint finding about
``objects[3].depends_on`` can point at the line where that list is written.

Folder merge, files in sorted path order (``*.yaml``/``*.yml``, recursively): a top-level list
(``objects:``) is concatenated; a top-level mapping (``parties:``) is merged key by key and a key
defined in two files is a BTN003 finding; a scalar (``id:``) may be repeated only with the same
value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared.contract.findings import FieldPath, Finding


@dataclass(frozen=True, slots=True)
class Location:
    file: Path
    line: int


@dataclass
class Source:
    """The merged raw document, where each part of it was written, and loading problems."""

    data: dict[str, Any] = field(default_factory=dict)
    locations: dict[FieldPath, Location] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)

    def locate(self, path: FieldPath) -> Location | None:
        """The location of ``path`` or of its nearest located ancestor; for the contract as a
        whole, the line that names its ``id``."""
        for end in range(len(path), 0, -1):
            found = self.locations.get(path[:end])
            if found is not None:
                return found
        root = self.locations.get(("id",))
        if root is None and self.files:
            root = Location(self.files[0], 1)
        return root

    def finding(self, code: str, message: str, path: FieldPath = ()) -> Finding:
        where = self.locate(path)
        return Finding(
            code,
            message,
            path,
            where.file if where else (self.files[0] if self.files else None),
            where.line if where else None,
        )


def read_source(path: Path) -> Source:
    """Read a contract file or folder; problems are returned as findings, never raised."""
    source = Source()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())
        if not files:
            source.problems.append(Finding("BTN001", f"no *.yaml files in {path}", (), path))
    elif path.is_file():
        files = [path]
    else:
        source.problems.append(Finding("BTN001", f"{path} does not exist", (), path))
        files = []
    source.files = files
    for file in files:
        parsed = _read_file(file, source.problems)
        if parsed is not None:
            _merge(source, file, *parsed)
    return source


def _read_file(
    file: Path, problems: list[Finding]
) -> tuple[dict[str, Any], dict[FieldPath, Location]] | None:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Finding("BTN001", f"cannot read: {exc}", (), file))
        return None
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return {}, {}
            locations: dict[FieldPath, Location] = {}
            _walk(node, (), file, locations, problems)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problems.append(
            Finding("BTN001", f"not valid YAML: {exc}".replace("\n", " "), (), file, line)
        )
        return None
    if not isinstance(data, dict):
        problems.append(
            Finding("BTN001", "a contract file must be a mapping of sections", (), file, 1)
        )
        return None
    return data, locations


def _walk(
    node: yaml.Node,
    path: FieldPath,
    file: Path,
    locations: dict[FieldPath, Location],
    problems: list[Finding],
) -> None:
    locations.setdefault(path, Location(file, node.start_mark.line + 1))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Finding(
                        "BTN003",
                        f"key {key!r} appears twice (first at line {seen[key]}); the last wins",
                        (*path, key),
                        file,
                        line,
                    )
                )
                continue
            seen[key] = line
            locations[(*path, key)] = Location(file, line)
            _walk(value_node, (*path, key), file, locations, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), file, locations, problems)


def _merge(
    source: Source, file: Path, data: dict[str, Any], locations: dict[FieldPath, Location]
) -> None:
    def copy_locations(prefix: FieldPath, offset: int = 0) -> None:
        for loc_path, loc in locations.items():
            if loc_path[: len(prefix)] != prefix:
                continue
            target = loc_path
            index = loc_path[len(prefix)] if len(loc_path) > len(prefix) else None
            if offset and isinstance(index, int):
                target = (*prefix, index + offset, *loc_path[len(prefix) + 1 :])
            source.locations.setdefault(target, loc)

    for key, value in data.items():
        here = str(key)
        if here not in source.data:
            source.data[here] = value
            copy_locations((here,))
            continue
        existing = source.data[here]
        if isinstance(existing, list) and isinstance(value, list):
            offset = len(existing)
            existing.extend(value)
            copy_locations((here,), offset)
        elif isinstance(existing, dict) and isinstance(value, dict):
            for sub, sub_value in value.items():
                if sub in existing:
                    first = source.locate((here, str(sub)))
                    before = f" (first in {first.file.name}:{first.line})" if first else ""
                    loc = locations.get((here, str(sub)))
                    source.problems.append(
                        Finding(
                            "BTN003",
                            f"{here}.{sub} is defined again{before}; the first definition wins",
                            (here, str(sub)),
                            file,
                            loc.line if loc else None,
                        )
                    )
                    continue
                existing[sub] = sub_value
                copy_locations((here, str(sub)))
        elif existing != value:
            loc = locations.get((here,))
            source.problems.append(
                Finding(
                    "BTN003",
                    f"{here} is set to {value!r} here but to {existing!r} in another file",
                    (here,),
                    file,
                    loc.line if loc else None,
                )
            )
