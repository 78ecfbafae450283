"""Size limits on the product code (issue 24, item 5): a newcomer reads any product file and
any function in one sitting.

- no product module over 700 lines;
- no function or method over 100 lines (from its `def` to its last line, decorators excluded).

Product code is every Python file under `baton/`, `shared/` and each service's package
(`services/<service>/<package>/`); tests, scripts and generated files are not product code.
Run this file with `-s` to see the largest files and the longest functions.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_FILE_LINES = 700
MAX_FUNCTION_LINES = 100


@dataclass(frozen=True)
class Measure:
    where: str
    lines: int


def product_files() -> list[Path]:
    packages = [ROOT / "baton", ROOT / "shared", *sorted(ROOT.glob("services/*/*/"))]
    return sorted(
        path
        for package in packages
        if (package / "__init__.py").exists()
        for path in package.rglob("*.py")
    )


def file_sizes() -> list[Measure]:
    return [
        Measure(str(path.relative_to(ROOT)), len(path.read_text().splitlines()))
        for path in product_files()
    ]


def function_sizes() -> list[Measure]:
    sizes = []
    for path in product_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                sizes.append(Measure(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}", lines))
    return sizes


def largest(measures: list[Measure], count: int = 5) -> str:
    ordered = sorted(measures, key=lambda measure: measure.lines, reverse=True)
    return "\n".join(f"  {measure.lines:5d}  {measure.where}" for measure in ordered[:count])


def test_the_product_packages_are_found() -> None:
    """A checker that measures nothing passes for ever: it must see every package."""
    places = {path.relative_to(ROOT).parts[:2] for path in product_files()}
    tops = {place[0] for place in places}
    services = {place[1] for place in places if place[0] == "services"}
    assert {"baton", "shared", "services"} <= tops
    assert services == {"intake", "router", "sla-clock", "reporting"}


def test_no_product_file_is_over_the_limit() -> None:
    sizes = file_sizes()
    print(f"\nlargest product files (limit {MAX_FILE_LINES} lines):\n{largest(sizes)}")
    over = [size for size in sizes if size.lines > MAX_FILE_LINES]
    assert not over, f"product files over {MAX_FILE_LINES} lines:\n{largest(over, len(over))}"


def test_no_function_is_over_the_limit() -> None:
    sizes = function_sizes()
    print(f"\nlongest functions (limit {MAX_FUNCTION_LINES} lines):\n{largest(sizes)}")
    over = [size for size in sizes if size.lines > MAX_FUNCTION_LINES]
    assert not over, f"functions over {MAX_FUNCTION_LINES} lines:\n{largest(over, len(over))}"
