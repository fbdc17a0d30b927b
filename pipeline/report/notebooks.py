"""Running the workbench's notebooks: papermill for execution, nbconvert for the HTML report.

Committed notebooks carry no outputs; every executed copy goes to ``notebooks/_out/`` (ignored by
git) or to ``reports/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.settings import PROJECT_ROOT, Settings

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
OUTPUT_DIR = NOTEBOOK_DIR / "_out"
REPORT_DIR = PROJECT_ROOT / "reports"


def notebook_path(name: str) -> Path:
    """The notebook whose file name starts with ``name`` (e.g. ``"06"`` or ``"06_incident_report"``)."""
    matches = sorted(NOTEBOOK_DIR.glob(f"{name}*.ipynb"))
    if len(matches) != 1:
        raise FileNotFoundError(f"no single notebook matches {name!r} in {NOTEBOOK_DIR}: {[m.name for m in matches]}")
    return matches[0]


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` for the duration (the kernel papermill starts inherits it)."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def execute(name: str, parameters: dict[str, Any], output: Path | None = None, progress: bool = False,
            settings: Settings | None = None) -> Path:
    """Run a notebook top to bottom with papermill; returns the executed copy's path.

    With ``settings``, the kernel's ``Settings()`` rebuilds exactly them (overrides included).
    """
    import papermill

    source = notebook_path(name)
    target = output or OUTPUT_DIR / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    with _environment(settings.environment() if settings else {}):
        papermill.execute_notebook(str(source), str(target), parameters=parameters, cwd=str(PROJECT_ROOT),
                                   kernel_name="python3", progress_bar=progress, log_output=False)
    return target


def export_html(executed: Path, target: Path) -> Path:
    """A self-contained HTML file without code cells: prose, tables and embedded charts."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            embed_images=True)
    body, _ = exporter.from_notebook_node(nbformat.read(str(executed), as_version=4))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    return target
