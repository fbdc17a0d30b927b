"""Stage 2, generating logs: realistic service traffic with injected incidents and malformed records,
sent into Kinesis with batched PutRecords, and the ground truth of what was sent.

``run(settings, config) -> GenerateResult`` is the step; notebooks, the demo and the CLI call it.
"""

from pipeline.generate.generator import GeneratorConfig
from pipeline.generate.run import GenerateResult, backfill_config, run, run_merged, sent_per_minute

__all__ = ["GenerateResult", "GeneratorConfig", "backfill_config", "run", "run_merged", "sent_per_minute"]
