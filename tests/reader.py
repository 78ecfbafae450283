"""Read a document as a person would: Chromium shows the HTML page, poppler prints the PDF.

Both are Debian packages that `make tools` installs; a test that needs them fails (never skips)
when they are missing, so a machine without them cannot pass the suite by accident.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageStat

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: `make tools` installs it (Debian package)"
    return found


def screenshot(html: str, out: Path, *, width: int = 1240, height: int = 1754) -> Path:
    """The page as Chromium shows it, in a fresh profile that is thrown away afterwards."""
    page = out.with_suffix(".html")
    page.write_text(html, encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        subprocess.run(
            [
                _tool("chromium"),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={out}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    assert out.exists(), "chromium wrote no screenshot"
    return out


def pdf_pages(pdf: bytes, folder: Path, *, dpi: int = 30) -> list[Path]:
    """Every page of the PDF as a PNG, drawn by poppler's pdftoppm."""
    source = folder / "document.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [_tool("pdftoppm"), "-png", "-r", str(dpi), str(source), str(folder / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return sorted(folder.glob("page-*.png"))


def pdf_text(pdf: bytes) -> str:
    """The text a reader (or a search) gets out of the PDF, in reading order."""
    result = subprocess.run(
        [_tool("pdftotext"), "-", "-"],
        input=pdf,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return result.stdout.decode()


def ink(png: Path) -> float:
    """Share of the picture that is not background white: 0 for a blank page."""
    with Image.open(png) as image:
        grey = image.convert("L")
        dark = grey.point(lambda v: 255 if v < 200 else 0)
        return float(ImageStat.Stat(dark).mean[0]) / 255


def assert_not_blank(png: Path, *, at_least: float = 0.005) -> None:
    share = ink(png)
    assert share >= at_least, f"{png.name} looks blank: {share:.2%} ink"


def overlapping_words(pdf: bytes, *, tolerance: float = 0.5) -> list[str]:
    """Pairs of words whose boxes overlap on a page, as poppler's ``pdftotext -bbox`` places
    them: text printed over other text (a long value running into the next label). Boxes
    that only touch, or overlap by less than ``tolerance`` points, do not count."""
    import xml.etree.ElementTree as ET

    result = subprocess.run(
        [_tool("pdftotext"), "-bbox", "-", "-"],
        input=pdf,
        check=True,
        capture_output=True,
        timeout=120,
    )
    root = ET.fromstring(result.stdout)
    found = []
    for number, page in enumerate(root.iter("{http://www.w3.org/1999/xhtml}page"), 1):
        words = sorted(
            (
                (
                    float(w.get("yMin", 0)),
                    float(w.get("yMax", 0)),
                    float(w.get("xMin", 0)),
                    float(w.get("xMax", 0)),
                    w.text or "",
                )
                for w in page.iter("{http://www.w3.org/1999/xhtml}word")
            ),
        )
        for i, (y0, y1, x0, x1, text) in enumerate(words):
            for oy0, oy1, ox0, ox1, other in words[i + 1 :]:
                if oy0 >= y1 - tolerance:
                    break  # sorted by top: every later word starts below this one
                if min(y1, oy1) - max(y0, oy0) > tolerance and (
                    min(x1, ox1) - max(x0, ox0) > tolerance
                ):
                    found.append(f"page {number}: {text!r} overlaps {other!r}")
    return found
