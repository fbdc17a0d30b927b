"""The pure parts of a live run: its feed plan, when it may end, its alerts' lines, its processes'
files, and the stages of an alert's latency."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.common.errors import WorkbenchError
from pipeline.live.feed import FeedPlan
from pipeline.live.latency import alert_latency
from pipeline.live.run import LiveAlert, LiveProcess, default_grace_s, feed_plan, nothing_left
from pipeline.settings import Settings

NOW = dt.datetime(2026, 3, 1, 12, 0, 30, tzinfo=dt.UTC)


def test_feed_plan_places_the_incident_and_renames_every_service():
    plan = feed_plan("payment-outage", duration_s=300, rate=10, incident_start_min=1, incident_min=2,
                     history_min=6, prefix="t1-")
    assert plan.params == {"start_min": "1", "duration_min": "2"}
    assert plan.incident_minutes == (1.0, 3.0)
    assert plan.incident_service == "t1-payment"
    assert {p.name for p in plan.services()} == {"t1-gateway", "t1-auth", "t1-search", "t1-inventory",
                                                  "t1-checkout", "t1-payment"}
    incident = plan.live_scenario().incident(NOW)
    assert (incident.service, incident.start, incident.end) == (
        "t1-payment", NOW + dt.timedelta(minutes=1), NOW + dt.timedelta(minutes=3))


def test_the_history_is_quiet_and_ends_where_the_live_part_starts():
    plan = feed_plan("payment-outage", duration_s=300, rate=10, incident_start_min=0, incident_min=2, history_min=6)
    config = plan.history_config(NOW)
    assert (config.start, config.end, config.count) == (NOW - dt.timedelta(minutes=6), NOW, 3600)
    incident = config.scenario.incident(config.start)
    assert incident.start >= config.end  # the incident lies after the history
    assert {p.name for p in config.services} == {p.name for p in plan.services()}
    live = plan.live_config()
    assert (live.rate, live.duration_s, live.total, live.backfill) == (10, 300, 3000, False)


def test_a_scenario_without_an_incident_needs_no_window():
    plan = feed_plan("none", duration_s=120, incident_start_min=50, incident_min=50)  # not used: no incident
    assert plan.params == {} and plan.incident_minutes is None and plan.incident_service is None
    assert FeedPlan.from_json(plan.to_json()) == plan


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"duration_s": 240, "incident_start_min": 3, "incident_min": 3}, "ends 6 minutes into the live traffic"),
    ({"params": {"start_min": "2"}}, "set by the live run"),
    ({"incident_min": 0}, "length >= 1"),
    ({"params": {"error_rate": "2"}}, "error_rate must be within [0, 1]"),
    ({"params": {"colour": "red"}}, "has no parameter 'colour'"),
    ({"rate": 0}, "rate and duration must be > 0"),
])
def test_feed_plan_refuses_what_cannot_work(kwargs, says):
    with pytest.raises(WorkbenchError, match=None) as caught:
        feed_plan("payment-outage", **kwargs)
    assert says in str(caught.value)


def test_the_grace_period_covers_an_incident_that_ends_with_the_traffic():
    settings = Settings(alerts_quiet_min=2, alerts_window_settle_s=7, watermark_bound_s=5, alerts_interval_s=10)
    # the minute in progress and 2 quiet minutes, the windows' closed time's lag, two evaluations, a margin
    assert default_grace_s(settings) == 180 + 12 + 20 + 30


def _alert(kind: str, service: str = "payment", start: str = "2026-03-01T12:03:00Z") -> LiveAlert:
    message = {"kind": kind, "service": service, "start": start, "end": "2026-03-01T12:05:00Z",
               "evidence": f"{service}: 5xx rate up to 40.0% vs baseline 0.40% in 2 min"}
    return LiveAlert.from_message(message, NOW)


def test_an_alert_is_one_line_and_the_run_waits_for_every_resolution():
    assert _alert("opened").line() == ("opened   payment start 2026-03-01T12:03:00Z "
                                       "payment: 5xx rate up to 40.0% vs baseline 0.40% in 2 min")
    assert not nothing_left([], {"payment"})  # the expected incident has not opened yet
    assert not nothing_left([_alert("opened")], {"payment"})  # opened, not resolved
    assert nothing_left([_alert("opened"), _alert("resolved")], {"payment"})
    assert not nothing_left([_alert("opened"), _alert("resolved"), _alert("opened", start="2026-03-01T12:20:00Z")],
                            {"payment"})
    assert nothing_left([], set())  # no incident planned, none opened


def test_live_processes_log_under_var_log_live_and_record_their_pid_in_var_run(tmp_path):
    settings = Settings(var_dir=tmp_path)
    process = LiveProcess(settings, "live-trigger", ["-m", "pipeline", "lambda", "run"])
    argv, env, _ = process.command()
    assert process.log_path == tmp_path / "log" / "live" / "live-trigger.log"
    assert process.pid_path == tmp_path / "run" / "live-trigger.pid"
    assert argv[1:] == ["-m", "pipeline", "lambda", "run"] and env["WB_VAR_DIR"] == str(tmp_path)
    assert not process.running()


def test_alert_latency_stages_add_up_to_the_total():
    settings = Settings(alerts_window_settle_s=5, watermark_bound_s=5)
    first = dt.datetime(2026, 3, 1, 12, 3, 20)
    latency = alert_latency(settings, "payment", first, "2026-03-01T12:05:00Z",
                            detected=dt.datetime(2026, 3, 1, 12, 5, 19, tzinfo=dt.UTC),
                            received=dt.datetime(2026, 3, 1, 12, 5, 22, tzinfo=dt.UTC),
                            window_written=dt.datetime(2026, 3, 1, 12, 5, 6, tzinfo=dt.UTC))
    parts = dict(latency.parts())
    assert parts == {"the minutes the detector needs": 100.0, "watermark bound, window firing and sink flush": 6.0,
                     "windows' closed time (bound + settle)": 4.0, "watcher interval, mining and detection": 9.0,
                     "evidence, publish and delivery": 3.0}
    assert sum(parts.values()) == latency.total_s == 122.0
    assert latency.line().startswith("payment: 122 s from the first failing record (12:03:20) to the queue")


def test_the_cli_parses_the_run_and_the_stop(tmp_path):
    from pipeline.cli import build_parser, main

    args = build_parser().parse_args(["live"])
    assert (args.scenario, args.duration, args.rate, args.incident_start, args.incident_minutes, args.history,
            args.grace, args.stop) == ("payment-outage", 600.0, 20.0, 3, 3, 15, None, False)
    # Nothing recorded to stop: says so, exit code 1, and touches no server.
    assert main(["live", "--stop"], settings=Settings(var_dir=tmp_path)) == 1
