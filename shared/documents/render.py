"""One template, three formats: HTML (Jinja2, autoescaped), PDF (WeasyPrint) and JSON."""

from __future__ import annotations

import dataclasses
import functools

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from shared.documents.model import Document


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("shared.documents", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # matplotlib (imported here: a service that never draws a chart does not pay for it at
    # start) escapes every label it writes into the SVG, so its markup is safe to embed
    from shared.documents.charts import chart_svg

    env.globals["chart"] = lambda chart: Markup(chart_svg(chart))  # noqa: S704
    return env


def render_html(doc: Document) -> str:
    """A standalone HTML page (styles inline, charts inline SVG): prints as the PDF does."""
    env = _environment()
    css = env.get_template("document.css").render()
    return env.get_template("document.html.j2").render(doc=doc, css=Markup(css))  # noqa: S704


def render_pdf(doc: Document) -> bytes:
    """The same HTML, paginated: header stamp and page numbers on every page."""
    from weasyprint import HTML  # heavy import, only when a PDF is asked for

    pdf: bytes = HTML(string=render_html(doc)).write_pdf()
    return pdf


def to_json(doc: Document) -> bytes:
    """The document's data, for machines: the figures the HTML and PDF show."""
    return orjson.dumps(dataclasses.asdict(doc), option=orjson.OPT_INDENT_2)
