"""Every notebook runs top to bottom under papermill against the local stack, with small parameters.

Each case names the notebook and the parameters that keep it quick. Executed copies go to
notebooks/_out/ (ignored by git); the committed notebooks must stay without outputs.
"""

from __future__ import annotations

import json
import re

import pytest

from pipeline.report.notebooks import NOTEBOOK_DIR, execute

NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def test_notebooks_are_committed_without_outputs():
    assert NOTEBOOKS, "no notebooks found"
    dirty = []
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
                dirty.append(path.name)
                break
    assert dirty == [], "strip outputs before committing (jupyter nbconvert --clear-output --inplace)"


def test_every_notebook_has_a_parameters_cell():
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells), path.name


@pytest.mark.stack
def test_stack_notebook_shows_every_server_up(stack, tmp_path):
    executed = execute("01", {"profile": "local"}, output=tmp_path / "01.ipynb")
    html = "".join("".join(o.get("data", {}).get("text/html", [])) for c in json.loads(executed.read_text())["cells"]
                   if c["cell_type"] == "code" for o in c.get("outputs", []))
    servers = ("kinesis", "mongodb", "postgres", "trino", "flink") + (("superset",) if stack.superset_enabled else ())
    for service in servers:
        assert f"<th>{service}</th>" in html
    assert html.count("<td>up</td>") == len(servers) and "<td>down</td>" not in html


@pytest.mark.stack
def test_the_story_runs_top_to_bottom_with_small_parameters(stack, tmp_path):
    """Notebooks 2 to 6 in order, as a class would run them: generate, ingest, window, analyse, report."""
    small = {"02": {"count": 3000, "minutes": 15, "seed": 3}, "03": {}, "04": {}, "05": {}, "06": {}}
    outputs = {}
    for number, parameters in small.items():
        outputs[number] = json.loads(execute(number, {"profile": "local", **parameters},
                                             output=tmp_path / f"{number}.ipynb").read_text())

    def texts(notebook: dict) -> str:
        return "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                       for c in notebook["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []))

    def images(notebook: dict) -> int:
        return sum("image/png" in o.get("data", {}) for c in notebook["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []))

    assert "'service': 'payment'" in texts(outputs["02"]) and images(outputs["02"]) == 2
    assert "records delivered" in texts(outputs["03"])
    assert "bounded run ended: state FINISHED" in texts(outputs["04"]) and images(outputs["04"]) == 1
    assert images(outputs["05"]) == 2
    assert "Incident report" in json.dumps(outputs["06"]["cells"][0])


# The stage package of each notebook; a notebook may also use settings, common and earlier stages.
STAGE_OF_NOTEBOOK = {"01": "stack", "02": "generate", "03": "ingest", "04": "windows", "05": "analysis",
                     "06": "report", "07": "live"}
STAGES = list(STAGE_OF_NOTEBOOK.values())


def test_notebook_n_calls_the_package_of_stage_n():
    for path in NOTEBOOKS:
        number = path.name[:2]
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                         if c["cell_type"] == "code")
        used = set(re.findall(r"from pipeline\.(\w+)", code)) | set(re.findall(r"from pipeline import (\w+)", code))
        stage = STAGE_OF_NOTEBOOK[number]
        assert stage in used, f"{path.name} does not call pipeline.{stage}"
        later = {p for p in used if p in STAGES and STAGES.index(p) > STAGES.index(stage)}
        assert not later, f"{path.name} reaches into a later stage: {sorted(later)}"
        assert "cli" not in used and "run_cli" not in code, f"{path.name} goes through the CLI"
