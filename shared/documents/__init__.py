"""Documents people sign and read: one data model, rendered as HTML, PDF and JSON.

A ``Document`` is plain data (sections of paragraphs, tables and charts, a page stamp, signature
blocks). ``render_html`` fills one Jinja2 template with autoescape on, ``render_pdf`` prints that
same HTML with WeasyPrint, ``to_json`` dumps the data itself — so the three formats never
disagree. Charts are drawn as SVG by matplotlib from the ``Chart`` data at render time.
"""

from shared.documents.model import Chart, Document, Fact, Section, Series, Signature, Table
from shared.documents.render import render_html, render_pdf, to_json

__all__ = [
    "Chart",
    "Document",
    "Fact",
    "Section",
    "Series",
    "Signature",
    "Table",
    "render_html",
    "render_pdf",
    "to_json",
]
