"""Log content is data, never markup: values from logs (service names, messages, hosts, patterns,
evidence) shown in a notebook's Markdown or HTML are escaped first, so a log cannot put a script, a
link or a heading into a report.

- Markdown built from values (``display(Markdown(f"### {...}"))``): pass every value through
  ``markdown_text``. HTML's special characters become entities, every other ASCII punctuation
  character is backslash-escaped (CommonMark: emphasis, links, images, code, headings, lists,
  tables are then plain characters), and line breaks become spaces, so the value stays inside the
  line it was put in.
- Tables: display the DataFrame itself. pandas' notebook repr (``DataFrame._repr_html_``) always
  calls ``to_html`` with ``escape=True``; ``Styler`` and ``to_html(escape=False)`` do not escape, so
  log data is never shown through them.
"""

from __future__ import annotations

import html
import string

# Every ASCII punctuation character CommonMark lets a backslash escape, except those HTML needs as
# entities (a backslash would not stop a browser, an entity does).
_HTML_SPECIAL = "&<>\"'"
_MARKDOWN_SPECIAL = "".join(c for c in string.punctuation if c not in _HTML_SPECIAL)
_TABLE = str.maketrans({
    **{c: html.escape(c, quote=True) for c in _HTML_SPECIAL},
    **{c: "\\" + c for c in _MARKDOWN_SPECIAL},
    "\r": " ", "\n": " ", "\t": " ", "\v": " ", "\f": " ", "\u2028": " ", "\u2029": " ",
})


def markdown_text(value: object) -> str:
    """``value`` as literal text inside Markdown: shown exactly as it is, never read as markup."""
    return str(value).translate(_TABLE)
