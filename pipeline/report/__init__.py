"""Stage 6, the report and the whole story: notebook 6 as a scheduled HTML report (papermill and
nbconvert), the demo that runs every stage, and the smoke round trip through every server."""

from pipeline.report.demo import DemoResult, run_demo
from pipeline.report.report import ReportError, make_report

__all__ = ["DemoResult", "ReportError", "make_report", "run_demo"]
