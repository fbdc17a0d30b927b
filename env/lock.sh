#!/usr/bin/env bash
# Re-pin requirements.lock: install pyproject.toml's pins into a scratch venv and freeze it.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3.11 -m venv "$tmp/venv" 2>/dev/null || python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet "pip==26.3"
"$tmp/venv/bin/python" - <<'PY' > "$tmp/reqs.txt"
import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))
PY
"$tmp/venv/bin/pip" install --quiet -r "$tmp/reqs.txt"
{ echo "# The whole environment, pinned (pip freeze of a venv made from pyproject.toml). Regenerate with: make lock"
  "$tmp/venv/bin/pip" freeze --exclude-editable; } > requirements.lock
echo "requirements.lock updated; run 'make test' (the unit tests check it against pyproject.toml)"
