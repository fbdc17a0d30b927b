#!/usr/bin/env bash
# Create (once) the Python environment of the workbench and link it as .venv.
#
# The environment lives in the cache, keyed by the hash of requirements.lock and the Python
# version, so a fresh clone or a second checkout reuses it instead of installing again; pip's own
# cache (~/.cache/pip) keeps the downloaded wheels. Everything comes from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${WB_PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; raise SystemExit(sys.version_info[:2] != (3, 11))'; then
      PYTHON=$candidate; break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "error: Python 3.11 is needed (PyFlink 1.20 and the pinned packages are built for it) and none was found." >&2
  echo "  fix: install python3.11 with venv (Debian: apt-get install python3.11-venv) or set WB_PYTHON=/path/to/python3.11" >&2
  exit 1
fi

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/log-workbench
KEY=$( (cat requirements.lock; "$PYTHON" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)
VENV=$CACHE/venvs/$KEY

if [ ! -f "$VENV/.complete" ]; then
  echo "Creating the Python environment in $VENV (first time only) ..."
  rm -rf "$VENV"
  mkdir -p "$CACHE/venvs"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade "pip==26.3" || {
    echo "error: could not install pip into $VENV; is PyPI reachable?" >&2; exit 1; }
  if ! "$VENV/bin/python" -m pip install --quiet --progress-bar off -r requirements.lock; then
    echo "error: installing requirements.lock failed (see the pip output above)." >&2
    echo "  fix: check that PyPI is reachable, then run 'make venv' again" >&2
    exit 1
  fi
  touch "$VENV/.complete"
fi

# The workbench itself, installed editable from this checkout: `import pipeline` works from any
# folder (job processes, notebook kernels) and the console script `workbench` is on the venv's PATH.
# The environment is shared by every checkout, so it is re-pointed when another one used it last.
HERE=$(pwd -P)
INSTALLED=$(cd / && "$VENV/bin/python" -c 'import os, pipeline; print(os.path.dirname(os.path.dirname(os.path.realpath(pipeline.__file__))))' 2>/dev/null || true)
if [ "$INSTALLED" != "$HERE" ] || [ ! -x "$VENV/bin/workbench" ]; then
  echo "Installing the workbench package (editable) from $HERE ..."
  if ! "$VENV/bin/python" -m pip install --quiet --progress-bar off --no-deps -e "$HERE"; then
    echo "error: installing the workbench package from $HERE failed (see the pip output above)." >&2
    echo "  fix: check that PyPI is reachable (pip fetches setuptools to build it), then run 'make venv' again" >&2
    exit 1
  fi
fi

if [ "$(readlink .venv 2>/dev/null || true)" != "$VENV" ]; then
  rm -rf .venv
  ln -s "$VENV" .venv
fi
