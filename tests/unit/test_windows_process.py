"""The job process gets the settings of whoever started it, not a fresh read of the environment."""

from __future__ import annotations

import os
import subprocess
import sys

from pipeline.settings import Settings
from pipeline.windows.process import FlinkJobProcess


def test_job_process_environment_rebuilds_the_callers_settings(tmp_path):
    settings = Settings(var_dir=tmp_path, profile="local", stream_name="custom-stream", postgres_port=6543,
                        postgres_password="secret-pw", watermark_bound_s=42)
    argv, env, _ = FlinkJobProcess(settings, "t1", bounded=True, watermark_bound_s=3600).command()

    assert argv[1:3] == ["-m", "pipeline.windows.job"] and "--bounded" in argv
    # What the job process builds from that environment alone (no .env: run in an empty folder).
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WB_") and k != "MONGODB_URI"}
    probe = ("from pipeline.settings import Settings; s = Settings(); "
             "print(s.stream_name, s.postgres_port, s.pg_password, s.watermark_bound_s, s.var_dir)")
    out = subprocess.run([sys.executable, "-c", probe], env={**clean, **env}, cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["custom-stream", "6543", "secret-pw", "3600", str(tmp_path)]
