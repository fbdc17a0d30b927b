"""Log content is data, never markup: ``markdown_text`` through the Markdown renderer the report uses,
pandas' table repr, and the notebooks' use of both (no servers needed)."""

from __future__ import annotations

import ast
import json
from html.parser import HTMLParser

import pandas as pd
import pytest
from nbconvert import HTMLExporter

from pipeline.report.escape import markdown_text
from pipeline.report.notebooks import notebook_path

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1)) ![i](x) <http://x.test> http://x.test www.x.test",
    "**bold** _em_ `code` ~~s~~ $x^2$ a|b \\*escaped\\* &amp; &lt;b&gt; 'q' \"q\"",
    "# heading",
    "1. item",
    "- item",
    "> quote",
    "line\n# heading\n<b>b</b>\r\n---",
    "payment",
]


def markdown2html(source: str) -> str:
    """Markdown as the report's HTML export renders it (nbconvert's mistune, raw HTML passed through)."""
    return HTMLExporter(embed_images=True).markdown2html({}, source)


class Rendered(HTMLParser):
    """The elements of rendered Markdown, and the text directly inside each kind of element."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: dict[str, list[str]] = {}
        self._open: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag):]

    def handle_data(self, data: str) -> None:
        if self._open:
            self.text.setdefault(self._open[-1], []).append(data)


@pytest.mark.parametrize("value", PAYLOADS)
def test_a_value_in_markdown_is_shown_as_the_text_it_is(value):
    flat = value.replace("\r", " ").replace("\n", " ")  # line breaks become spaces
    paragraph = Rendered(markdown2html(f"{markdown_text(value)}: 10:00 to 10:05 UTC"))
    assert paragraph.tags == ["p"]
    assert paragraph.text["p"] == [f"{flat}: 10:00 to 10:05 UTC"]
    heading = Rendered(markdown2html(f"### {markdown_text(value)}\n\n{markdown_text(value)}"))
    assert heading.tags == ["h3", "a", "p"]  # the heading, its anchor link (the pilcrow), the paragraph
    assert heading.text["h3"] == [flat] and heading.text["p"] == [flat]


def test_pandas_tables_escape_what_they_show():
    frame = pd.DataFrame({"service": PAYLOADS[:3], "message": PAYLOADS[3:6]})
    table = frame._repr_html_()  # what display() and a cell's last expression show
    assert "<img" not in table and "<script" not in table and "<a " not in table
    assert "&lt;img src=x onerror=alert(1)&gt;" in table


NOTEBOOKS_WITH_LOG_DATA = ("05", "06")


def _code(number: str) -> ast.Module:
    cells = json.loads(notebook_path(number).read_text(encoding="utf-8"))["cells"]
    return ast.parse("\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code"))


@pytest.mark.parametrize("number", NOTEBOOKS_WITH_LOG_DATA)
def test_notebooks_show_log_data_only_through_escaping_paths(number):
    """Tables: the DataFrame itself (never Styler, to_html, HTML). Markdown: a value read from a frame
    or a row goes through markdown_text (formatted dates and numbers are safe as they are)."""
    tree = _code(number)
    names = {n.attr if isinstance(n, ast.Attribute) else n.id for n in ast.walk(tree)
             if isinstance(n, ast.Attribute | ast.Name)}
    assert not names & {"style", "Styler", "to_html", "HTML"}, f"notebook {number} renders HTML itself"
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Markdown"):
            continue
        for value in (n for n in ast.walk(call) if isinstance(n, ast.FormattedValue)):
            wrapped = isinstance(value.value, ast.Call) and getattr(value.value.func, "id", "") == "markdown_text"
            unescaped = isinstance(value.value, ast.Subscript) and value.format_spec is None
            assert wrapped or not unescaped, f"notebook {number}: {ast.unparse(value.value)} is not escaped"
