"""Template mining and the pattern answers over 1,000,000 x scale stored raw logs (the day the
``analysis`` suite loads, with its payment outage), each next to its baseline from the same run:

- mining throughput (messages/s through Drain, field counting included) next to reading the same
  logs from MongoDB, which bounds the miner end to end; and the whole run (read, mine, store);
- top patterns of the 24 h from the mined templates in PostgreSQL (median of 3) next to today's
  raw-log query (``top_patterns``: masking and grouping every error of the day in Trino);
- "why this window" for the payment outage, against the 3 hours before it.

The day lies in the future (2030), past the miner's closed time, so the bench mines it with ``now``
set after it. It forgets what it mined before, so each run mines the whole day.
"""

from __future__ import annotations

import datetime as dt
import statistics

from pipeline.analysis import top_patterns
from pipeline.analysis.mine_stored import mine_stored
from pipeline.analysis.pattern_queries import top_templates, why
from pipeline.analysis.template_store import forget
from pipeline.bench import analysis
from pipeline.bench.result import Result, timed
from pipeline.common.times import utc_naive
from pipeline.generate.scenarios import make_scenario
from pipeline.settings import Settings
from pipeline.windows import schema

TARGET_MINING = 20_000  # messages/s
TARGET_TOP_S, TARGET_WHY_S = 1.0, 3.0


def run(settings: Settings, scale: float) -> list[Result]:
    count = int(1_000_000 * scale)
    case = analysis.bench_settings(settings)
    analysis.load_day(case, count)
    schema.apply(case)
    day_start, day_end = utc_naive(analysis.DAY), utc_naive(analysis.DAY + dt.timedelta(days=1))
    forget(case)
    report = mine_stored(case, day_end, now=day_end + dt.timedelta(days=1))
    mining, reading = report.logs / report.mine_s, report.logs / report.read_s
    print(f"   mined {report.logs:,} logs: read {report.read_s:.1f} s, mine {report.mine_s:.1f} s, "
          f"store {report.store_s:.1f} s; {report.templates} templates", flush=True)
    results = [
        Result("patterns mining (Drain + field counts)", mining, "msg/s",
               f"MongoDB read {reading:,.0f} logs/s; target >= {TARGET_MINING:,}",
               f"{report.logs:,} logs, {report.templates} templates"),
        Result("patterns mining end to end (read, mine, store)", report.logs / report.seconds, "logs/s",
               f"store {report.store_s:.1f} s", f"{report.steps} hourly steps, one transaction each"),
    ]

    top_templates(case, day_start, day_start + dt.timedelta(hours=1))  # warm-up: Trino plans, loads metadata
    times = []
    for _ in range(3):
        mined_top, seconds = timed(lambda: top_templates(case, day_start, day_end))
        times.append(seconds)
    raw_top, t_raw = timed(lambda: top_patterns(case, day_start, day_end))
    t_top = statistics.median(times)
    print(f"   top patterns 24 h: mined {t_top:.2f} s, raw {t_raw:.1f} s", flush=True)
    results += [
        Result("patterns top 24 h from PostgreSQL", t_top, "s",
               f"raw-log query {t_raw:.1f} s = x{t_raw / t_top:.0f}; target < {TARGET_TOP_S:g} s",
               f"median of {', '.join(f'{t:.2f}' for t in times)} s; {len(mined_top)} templates "
               f"(raw: {len(raw_top)} masked patterns)"),
        Result("patterns top 24 h from raw logs (Trino)", t_raw, "s", "baseline", f"{count:,} stored logs"),
    ]

    outage = make_scenario("payment-outage").incident(analysis.DAY.replace(tzinfo=dt.UTC))
    assert outage is not None
    start, end = utc_naive(outage.start), utc_naive(outage.end)
    ranked, t_why = timed(lambda: why(case, outage.service, start, end))
    top = ranked.iloc[0] if len(ranked) else None
    summary = "nothing over-represented" if top is None else (
        f"top: {top['field']}={str(top['value'])[:30]} ({top['window_share']:.0%} of the window's errors, "
        f"{top['baseline_share']:.0%} of the baseline's)")
    print(f"   why {outage.service} {start:%H:%M}-{end:%H:%M}: {t_why:.2f} s; {summary}", flush=True)
    results.append(Result("patterns why this window (payment outage)", t_why, "s", f"target < {TARGET_WHY_S:g} s",
                          summary))
    return results

