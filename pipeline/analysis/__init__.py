"""Federated analysis of the raw logs (MongoDB) and the per-minute aggregates (PostgreSQL) through Trino.

Every function takes the one ``Settings`` object and returns a pandas DataFrame. The SQL lives in
``sql/*.sql`` beside the code; user-given values (time ranges, services, limits) are always bound
parameters (SQLAlchemy ``:name`` binds, sent by the Trino client as ``EXECUTE IMMEDIATE ... USING``),
never pasted into the text. Only identifiers the code derives itself (catalog/schema/collection
names from the settings, the hourly bucket collections found in MongoDB) are spliced in, quoted.

Modules: ``db`` (engine, query runner), ``layout`` (where raw logs live, the Trino ``_schema``),
``trends``, ``percentiles`` (from the windows' latency sketch, or from the raw logs), ``drilldown``,
``patterns``, ``incidents`` (departures from each service's own baseline) with ``changepoints``
(the likelihood-ratio scans it uses), ``scoreboard`` (the detector scored against the generator's
ground truth), ``reconcile`` (raw logs and windows, minute by minute: do they add up?).

Log templates: ``drain`` (the miner) and ``drain_quality`` (against the generator's templates),
``mining`` (a stretch of logs into templates, per-minute counts and error field values),
``template_store`` (those in PostgreSQL, one transaction per step with the cursor), ``mine_stored``
(incremental mining of the raw logs over closed time), ``pattern_queries`` (top, new, changed,
why, values, coverage, through Trino) with ``pattern_stats`` (their statistics) and
``pattern_scoreboard`` (those answers scored against the generator's ground truth).
"""

from pipeline.analysis.drilldown import drilldown, worst_windows
from pipeline.analysis.incidents import detect_incidents, incidents
from pipeline.analysis.layout import ensure_trino_schema, raw_sources
from pipeline.analysis.mine_stored import mine_stored
from pipeline.analysis.patterns import mask_message, top_patterns
from pipeline.analysis.percentiles import latency_percentiles
from pipeline.analysis.reconcile import Reconciliation, reconcile
from pipeline.analysis.trends import minute_trends

__all__ = [
    "Reconciliation",
    "detect_incidents",
    "drilldown",
    "ensure_trino_schema",
    "incidents",
    "latency_percentiles",
    "mask_message",
    "mine_stored",
    "minute_trends",
    "raw_sources",
    "reconcile",
    "top_patterns",
    "worst_windows",
]
