"""The stack knows the processes it started by pid and start time since boot, so a wall clock that is
set (NTP, a virtual machine resumed) does not make it lose track of its servers."""

from __future__ import annotations

import json
import subprocess
import sys

import psutil
import pytest

from pipeline.settings import Settings
from pipeline.stack.base import seconds_since_boot_at_start
from pipeline.stack.moto import MotoService


@pytest.fixture
def child():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def _record(service: MotoService, **values: object) -> None:
    service.pid_path.parent.mkdir(parents=True, exist_ok=True)
    service.pid_path.write_text(json.dumps(values), encoding="utf-8")


def test_a_process_is_still_ours_after_the_wall_clock_moved(tmp_path, child):
    service = MotoService(Settings(var_dir=tmp_path))
    started = psutil.Process(child.pid).create_time()
    # Written before the clock was set an hour ahead: the wall-clock start time no longer matches.
    _record(service, pid=child.pid, started=started - 3600, since_boot=seconds_since_boot_at_start(child.pid))
    assert service.pid() == child.pid


def test_another_process_with_the_same_pid_is_not_ours(tmp_path, child):
    service = MotoService(Settings(var_dir=tmp_path))
    since_boot = seconds_since_boot_at_start(child.pid)
    _record(service, pid=child.pid, started=psutil.Process(child.pid).create_time(), since_boot=since_boot - 30)
    assert service.pid() is None


def test_a_pid_file_of_older_versions_still_works(tmp_path, child):
    service = MotoService(Settings(var_dir=tmp_path))
    _record(service, pid=child.pid, started=psutil.Process(child.pid).create_time())
    assert service.pid() == child.pid
