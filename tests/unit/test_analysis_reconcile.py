"""The reconciliation's flagging, totals and output on constructed frames (no servers)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from pipeline import cli
from pipeline.analysis import db
from pipeline.analysis.layout import EMPTY_RAW, RAW_COLUMNS, RAW_FIELDS
from pipeline.analysis.reconcile import (
    COUNT_COLUMNS,
    MINUTE_COLUMNS,
    QUARANTINE_COLUMNS,
    build,
    flag_minutes,
    format_table,
    minute_range,
    to_json,
)

T0 = dt.datetime(2026, 11, 27, 10, 0)
M = dt.timedelta(minutes=1)


def _counts(*rows: tuple) -> pd.DataFrame:
    """(service, minute offset, stored, received, counted, skewed_raw, skewed_received, skewed_windows)."""
    return pd.DataFrame([(s, T0 + k * M, *n) for s, k, *n in rows], columns=["service", "minute", *COUNT_COLUMNS])


def _one(*counts: int) -> pd.Series:
    return flag_minutes(_counts(("auth", 0, *counts))).iloc[0]


def test_a_minute_whose_paths_agree_is_ok():
    row = _one(10, 10, 10, 0, 0, 0)
    assert row["ok"] and row["problem"] == "" and row["late"] == 0


def test_late_records_are_received_minus_counted_and_are_no_problem():
    row = _one(10, 10, 7, 0, 0, 0)
    assert row["ok"] and row["late"] == 3


def test_stored_and_received_must_agree():
    row = _one(16, 17, 17, 0, 0, 0)
    assert not row["ok"]
    assert row["problem"] == "stored 16, Flink read 17: the paths disagree"
    assert _one(17, 16, 16, 0, 0, 0)["problem"] == "stored 17, Flink read 16: the paths disagree"


def test_a_window_cannot_count_more_than_flink_read():
    row = _one(5, 5, 10, 0, 0, 0)
    assert not row["ok"] and row["late"] == -5
    assert row["problem"] == "window counts 5 more than Flink read"


def test_skewed_counts_must_agree_without_late_records():
    row = _one(10, 10, 10, 3, 3, 2)
    assert not row["ok"] and row["problem"] == "skewed: raw 3, windows 2"
    assert _one(10, 10, 10, 2, 2, 3)["problem"] == "skewed: raw 2, windows 3"
    assert _one(10, 10, 10, 3, 3, 3)["ok"]


def test_a_skewed_record_missing_from_the_window_may_be_a_late_one():
    assert _one(10, 10, 9, 3, 3, 2)["ok"]  # 1 late: it may be the skewed one
    row = _one(10, 10, 9, 3, 3, 1)  # 2 skewed missing, only 1 late
    assert not row["ok"] and row["problem"] == "skewed: raw 3, windows 1, 1 late"


def test_both_paths_must_flag_the_same_records_as_skewed():
    row = _one(10, 10, 10, 3, 2, 2)
    assert not row["ok"] and row["problem"] == "skewed: raw 3, Flink read 2"


def test_every_problem_of_a_minute_is_named():
    row = _one(3, 4, 6, 1, 0, 0)
    assert row["problem"] == ("stored 3, Flink read 4: the paths disagree; window counts 2 more than Flink read; "
                              "skewed: raw 1, Flink read 0")


def test_a_minute_on_one_side_only_compares_with_zero_and_null_is_zero():
    frame = _counts(("auth", 0, 4, 4, 4, 0, 0, 0), ("auth", 1, 3, None, None, None, None, None),
                    ("auth", 2, None, None, 2, None, None, None), ("pay", 0, 2, 2, 2, np.nan, 0, 0))
    got = flag_minutes(frame)
    assert list(got.columns) == list(MINUTE_COLUMNS)
    assert got["ok"].tolist() == [True, False, False, True]
    assert got["problem"].tolist()[1:3] == ["stored 3, Flink read 0: the paths disagree",
                                            "window counts 2 more than Flink read"]
    assert got[list(COUNT_COLUMNS)].dtypes.eq("int64").all()
    assert got["ok"].dtype == bool


def test_an_empty_frame_is_ok():
    got = flag_minutes(pd.DataFrame(columns=["service", "minute", *COUNT_COLUMNS]))
    assert got.empty and list(got.columns) == list(MINUTE_COLUMNS)
    result = build(T0, T0 + M, pd.DataFrame(columns=["service", "minute", *COUNT_COLUMNS]),
                   pd.DataFrame(columns=list(QUARANTINE_COLUMNS)))
    assert result.ok and result.totals.received == 0 and result.summary.endswith("all 0 service-minutes add up")
    assert "no raw log" in format_table(result)


def _result():
    counts = _counts(("auth", 0, 10, 10, 8, 1, 1, 1), ("auth", 1, 16, 17, 17, 0, 0, 0),
                     ("pay\n\x1b[31mred", 0, 5, 5, 5, 0, 0, 0))
    quarantined = pd.DataFrame({"reason": ["not JSON", "missing field(s)"], "records": [3, 1],
                                "example": ["{\"a\": 1,\x1b[2J", "{}"]})
    return build(T0, T0 + 2 * M, counts, quarantined)


def test_totals_and_the_verdict():
    result = _result()
    assert not result.ok
    t = result.totals
    assert (t.received, t.stored, t.counted, t.quarantined, t.late, t.skewed) == (32, 31, 30, 4, 2, 1)
    assert result.problems["minute"].tolist() == [pd.Timestamp(T0 + M)]
    assert result.summary == ("32 logs read by Flink, 31 stored raw, 30 counted in windows, 2 late, 1 skewed, "
                              "4 records quarantined; 1 of 3 service-minutes do not add up")


def test_late_total_leaves_out_windows_that_count_too_many():
    result = build(T0, T0 + M, _counts(("a", 0, 5, 5, 9, 0, 0, 0), ("b", 0, 5, 5, 3, 0, 0, 0)),
                   pd.DataFrame(columns=list(QUARANTINE_COLUMNS)))
    assert result.totals.late == 2


def test_the_table_marks_what_does_not_add_up_and_escapes_control_characters():
    text = format_table(_result())
    assert "\x1b" not in text and "pay\\n\\x1b[31mred" in text
    flagged = [line for line in text.splitlines() if "  NO  " in line]
    assert len(flagged) == 1 and "2026-11-27 10:01" in flagged[0]
    assert flagged[0].endswith("stored 16, Flink read 17: the paths disagree")
    assert "Quarantined by reason" in text and "not JSON" in text
    assert text.splitlines()[-1].endswith("1 of 3 service-minutes do not add up")
    assert "2026-11-27 10:01" not in format_table(_result(), minutes=False)


def test_json_holds_everything():
    document = json.loads(to_json(_result()))
    assert document["start"] == "2026-11-27T10:00:00Z" and document["ok"] is False
    assert document["totals"]["received"] == 32
    assert document["minutes"][1] == {
        "service": "auth", "minute": "2026-11-27T10:01:00Z", "stored": 16, "received": 17, "counted": 17, "late": 0,
        "skewed_raw": 0, "skewed_received": 0, "skewed_windows": 0, "ok": False,
        "problem": "stored 16, Flink read 17: the paths disagree"}
    assert document["quarantined"][0] == {"reason": "not JSON", "records": 3, "example": "{\"a\": 1,\x1b[2J"}


def test_the_range_is_the_whole_minutes_that_start_in_it():
    assert minute_range(T0, T0 + 60 * M) == (T0, T0 + 60 * M)
    assert minute_range(T0 + dt.timedelta(seconds=30), T0 + dt.timedelta(minutes=2, seconds=1)) == (T0 + M, T0 + 3 * M)
    aware = dt.datetime(2026, 11, 27, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert minute_range(aware, aware + M) == (T0, T0 + M)


def test_the_sql_binds_every_value(settings):
    sql = db.load_sql("reconcile", pg_schema='"public"', raw_logs=EMPTY_RAW)
    compiled = db.statement(sql).compile(dialect=db.engine(settings).dialect)
    assert ":start_ts" not in compiled.string and ":services" not in compiled.string
    assert compiled.string.count("FULL OUTER JOIN") == 2
    assert "date_trunc('minute', ts)" in sql


def test_the_raw_logs_carry_the_handlers_flags():
    fields = dict(RAW_FIELDS)
    assert fields["clock_skew"] == "boolean" and fields["message_truncated"] == "boolean"
    assert RAW_COLUMNS.endswith("clock_skew") and "AS clock_skew WHERE false" in EMPTY_RAW


def test_the_command_explains_its_columns(capsys):
    with pytest.raises(SystemExit):
        cli.main(["reconcile", "--help"])
    out = capsys.readouterr().out
    for column in MINUTE_COLUMNS[2:]:
        assert f"\n  {column} " in out
    assert "Exits 1 if any minute does not add up" in out


def test_an_empty_range_is_refused_before_any_server_is_asked(settings, capsys):
    code = cli.main(["reconcile", "--start", "2026-11-27T10:00:30Z", "--end", "2026-11-27T10:00:50Z"],
                    settings=settings)
    assert code == 2
    assert "no whole minute starts in the range" in capsys.readouterr().err
