"""``python -m pipeline live``: the whole pipeline live on a scenario, alerts printed as they arrive."""

from __future__ import annotations

import argparse

from pipeline.cli.args import key_value, positive_float, positive_int
from pipeline.generate.scenarios import SCENARIOS
from pipeline.live.run import run_live, stop_live
from pipeline.settings import Settings

DESCRIPTION = """\
Run the whole pipeline live, each part as its own process (logs in var/log/live/ and
var/log/flink/): the Lambda trigger (stream -> MongoDB), a live Flink window job (stream ->
PostgreSQL windows), the alert watcher (closed windows -> SNS topic) and a generator. The generator
first sends --history minutes of normal traffic from before now (the detector judges a minute
against the service's own baseline, which a fresh stack does not have), then sends live traffic at
--rate events a second for --duration seconds, with the scenario's incident from --incident-start
minutes in, for --incident-minutes minutes.

Prints the dashboard URL, then one line per alert as it arrives in the run's queue (subscribed to
the alert topic): opened|resolved, service, start, evidence. After the traffic ends it waits a grace
period for the incident's resolution (default: the minute in progress + WB_ALERTS_QUIET_MIN closed
minutes + WB_ALERTS_WINDOW_SETTLE_S + WB_WATERMARK_BOUND_S + two watcher intervals + 30 s; it ends sooner
once every incident opened has resolved), then prints how long each alert took from the incident's
first failing record, and stops everything it started. Ctrl-C stops everything as well.

The run writes to a Kinesis stream of its own (deleted at the end), into the configured MongoDB
database and window tables. Needs the local stack: 'make up'.
"""

EPILOG = """\
examples:
  python -m pipeline live                                    # payment-outage, 10 minutes
  python -m pipeline live --scenario host-failure --duration 900 --incident-start 5 --incident-minutes 5
  python -m pipeline live --scenario none --duration 300     # nothing should alert
  python -m pipeline live --stop                             # clean up after a run whose terminal was killed
"""


def _run(args: argparse.Namespace, settings: Settings) -> int:
    def say(line: str) -> None:
        print(line, flush=True)

    if args.stop:
        return 0 if stop_live(settings, say=say) else 1
    result = run_live(settings, args.scenario, duration_s=args.duration, rate=args.rate,
                      incident_start_min=args.incident_start, incident_min=args.incident_minutes,
                      history_min=args.history, params=dict(args.param), seed=args.seed, grace_s=args.grace,
                      say=say)
    return 130 if result.interrupted else 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("live", help="run trigger, Flink job, alert watcher and generator live; print alerts",
                            description=DESCRIPTION, epilog=EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="payment-outage",
                        help="incident to inject (default payment-outage; 'generate --help' describes each)")
    parser.add_argument("--duration", type=positive_float, default=600.0, metavar="S",
                        help="seconds of live traffic (default 600)")
    parser.add_argument("--rate", type=positive_float, default=20.0, metavar="R",
                        help="events a second (default 20: each evaluation of the watcher mines the new raw "
                             "logs, which FerretDB reads at about 9,000 a second)")
    parser.add_argument("--incident-start", type=int, default=3, metavar="MIN",
                        help="minutes into the live traffic the incident starts (default 3)")
    parser.add_argument("--incident-minutes", type=positive_int, default=3, metavar="MIN",
                        help="how long the incident lasts (default 3); it must end within --duration")
    parser.add_argument("--history", type=int, default=15, metavar="MIN",
                        help="minutes of normal traffic before now, sent first as the detector's baseline "
                             "(default 15; at least 5 normal minutes are needed)")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", type=key_value,
                        help="another scenario parameter, repeatable (e.g. -p error_rate=0.2)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument("--grace", type=positive_float, default=None, metavar="S",
                        help="seconds to wait after the traffic for alerts (default: computed, see above)")
    parser.add_argument("--stop", action="store_true",
                        help="instead: stop the processes, stream and queue of a live run whose own process was "
                             "killed")
    parser.set_defaults(func=_run)
