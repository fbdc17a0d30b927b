"""Render the paragraphs of ``flink_studio/`` into a Zeppelin 0.10 note (``.zpln``) for Studio.

One ``%flink.ssql`` paragraph per SQL file, in file order. The INSERT paragraph carries
``runAsOne=true`` so Zeppelin submits its INSERTs as one Flink job (the local run uses a statement
set for the same reason). Values come from ``flink_paragraphs.studio_values``: Studio's connector
options, no local endpoint, and the JDBC password as a marker that ``flink deploy`` fills when it
imports the note. The note id and dates derive from the content, so rendering twice gives the same
file (diffs stay meaningful).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from pipeline.settings import Settings
from pipeline.windows.paragraphs import SECRET_MARKERS, Paragraph, paragraphs, sql_literal, studio_values

ZEPPELIN_VERSION = "0.10.0"
_DATE = "2024-01-01 00:00:00.000"  # fixed: the note must not change when nothing else did


def paragraph_text(paragraph: Paragraph, values: dict[str, str]) -> str:
    """The paragraph as Zeppelin shows it: interpreter line, then the statements."""
    header = "%flink.ssql(runAsOne=true)" if paragraph.is_insert else "%flink.ssql"
    body = ";\n\n".join(re.sub(r"\n[ \t]+\n", "\n", s) for s in paragraph.statements(values)) + ";"
    return f"{header}\n{body}\n"


def _id(*parts: str, length: int = 9) -> str:
    """Zeppelin-looking upper-case id, stable for the same input."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest().upper()
    return "2" + digest[: length - 1]


def render_note(settings: Settings, name: str | None = None) -> dict:
    """The note as a dict (json.dumps it to get the .zpln)."""
    name = name or settings.studio_app_name
    values = studio_values(settings)
    note_paragraphs = []
    for index, paragraph in enumerate(paragraphs()):
        text = paragraph_text(paragraph, values)
        pid = f"paragraph_{index + 1:03d}_{_id(name, paragraph.path.name, text, length=12)}"
        note_paragraphs.append({
            "title": paragraph.title,
            "text": text,
            "user": "anonymous",
            "dateUpdated": _DATE,
            "progress": 0,
            "config": {
                "editorSetting": {"language": "sql", "editOnDblClick": False, "completionSupport": True},
                "editorMode": "ace/mode/sql",
                "colWidth": 12.0,
                "fontSize": 9.0,
                "title": True,
                "results": {},
                "enabled": True,
            },
            "settings": {"params": {}, "forms": {}},
            "apps": [],
            "runtimeInfos": {},
            "progressUpdateIntervalMs": 500,
            "jobName": pid,
            "id": pid,
            "dateCreated": _DATE,
            "status": "READY",
        })
    return {
        "paragraphs": note_paragraphs,
        "name": name,
        "id": _id(name, *(p["text"] for p in note_paragraphs)),
        "defaultInterpreterGroup": "flink",
        "version": ZEPPELIN_VERSION,
        "noteParams": {},
        "noteForms": {},
        "angularObjects": {},
        "config": {"isZeppelinNotebookCronEnable": False},
        "info": {},
    }


def write_note(settings: Settings, path: Path, name: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(render_note(settings, name), indent=2) + "\n", encoding="utf-8")
    return path


def fill_secrets(note: dict, secrets: dict[str, str]) -> dict:
    """A copy of the note with the secret markers replaced (in memory only, for the import)."""
    filled = json.loads(json.dumps(note))
    for paragraph in filled["paragraphs"]:
        for key, marker in SECRET_MARKERS.items():
            if key in secrets:
                paragraph["text"] = paragraph["text"].replace(sql_literal(marker), sql_literal(secrets[key]))
    return filled


def unfilled_markers(note: dict) -> list[str]:
    """Markers ({{...}}) still in the note: values the user must provide before the note can run."""
    found: set[str] = set()
    for paragraph in note["paragraphs"]:
        found.update(re.findall(r"\{\{[A-Z_]+\}\}", paragraph["text"]))
    return sorted(found)
