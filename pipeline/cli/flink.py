"""``python -m pipeline flink run | status | stop | note | deploy``.

``run`` starts the window job (``pipeline.windows.job``) as a process of its own session, with its pid
file (pid + start time, like the stack's servers) in ``var/run/flink-<name>.pid``, its state in
``var/run/flink-<name>.json`` and its log in ``var/log/flink/<name>.log``. Without ``--bounded`` it
returns once the job runs; with ``--bounded`` it waits until the job has drained the stream and
finished, and exits with the job's exit code (for scripts and tests).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.settings import Settings
from pipeline.windows.note import render_note, unfilled_markers, write_note
from pipeline.windows.process import DEFAULT_JOB, jobs, run_job, stop_jobs
from pipeline.windows.studio import deploy


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    run = run_job(settings, name=args.name, stream=args.stream, bounded=args.bounded,
                  parallelism=args.parallelism, watermark_bound_s=args.watermark_bound)
    return run.exit_code


def _cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    found = jobs(settings, args.name)
    if not found:
        print("no Flink job has been started (python -m pipeline flink run)")
        return 1
    any_running = False
    for job in found:
        state = job.state()
        alive = job.running()
        any_running |= alive
        shown = state.get("state", "?") if alive or state.get("state") in ("FINISHED", "FAILED", "CANCELED") \
            else f"{state.get('state', '?')} (process gone)"
        print(f"{job.job_name}: {shown}; pid {job.pid() or '-'}; stream {state.get('stream', '?')}; "
              f"Flink job {state.get('job_id', '-')}; records read {state.get('records_read', 0)}; "
              f"shards behind (ms) {state.get('behind_ms', {})}; log {job.log_path}")
    return 0 if any_running or args.name is None else 1


def _cmd_stop(args: argparse.Namespace, settings: Settings) -> int:
    stopped = stop_jobs(settings, args.name)
    if not stopped:
        print("no Flink job is running")
    for name in stopped:
        print(f"stopped {name}")
    return 0


def _cmd_note(args: argparse.Namespace, settings: Settings) -> int:
    path = args.output or settings.var_dir / "flink" / f"{settings.studio_app_name}.zpln"
    write_note(settings, path)
    markers = unfilled_markers(render_note(settings))
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    if markers:
        print(f"markers to fill before running it in Studio (flink deploy fills the password): {', '.join(markers)}")
    return 0


def _cmd_deploy(args: argparse.Namespace, settings: Settings) -> int:
    for line in deploy(settings, start=not args.no_start, import_note=not args.no_import):
        print(line, flush=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    flink = sub.add_parser("flink", help="run the Flink SQL window job locally, or deploy it to Studio",
                           description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = flink.add_subparsers(dest="action", required=True, metavar="ACTION")

    run = actions.add_parser("run", help="start the window job on the local PyFlink runtime")
    run.add_argument("--stream", default=None, help="Kinesis stream (default: WB_STREAM_NAME)")
    run.add_argument("--bounded", action="store_true",
                     help="process what is in the stream, close every window, exit (waits for the end)")
    run.add_argument("--name", default=DEFAULT_JOB, help=f"job name for pid/log files (default {DEFAULT_JOB})")
    run.add_argument("--parallelism", type=int, default=None, help="default: WB_FLINK_PARALLELISM or one per shard")
    run.add_argument("--watermark-bound", type=int, default=None, metavar="SECONDS",
                     help="how late a record may be and still count (default WB_WATERMARK_BOUND_S). A backfill "
                     "read from several shards at once needs a bound as wide as the skew between shards")
    run.set_defaults(func=_cmd_run)

    for action, handler, text in (("status", _cmd_status, "state and progress of the local job(s)"),
                                  ("stop", _cmd_stop, "cancel the local job(s)")):
        parser = actions.add_parser(action, help=text)
        parser.add_argument("--name", default=None, help="one job (default: all)")
        parser.set_defaults(func=handler)

    note = actions.add_parser("note", help="render the paragraphs as a Zeppelin note (.zpln) for Studio")
    note.add_argument("--output", type=Path, default=None, help="default: var/flink/<studio app>.zpln")
    note.set_defaults(func=_cmd_note)

    deploy = actions.add_parser("deploy", help="create/update the Studio application and import the note")
    deploy.add_argument("--no-start", action="store_true", help="do not start the application")
    deploy.add_argument("--no-import", action="store_true", help="do not import the note")
    deploy.set_defaults(func=_cmd_deploy)
