# Shared set-up for scripts/*.sh: create .venv if missing and install voxflow into it.
# Sourced, not run. Honours VOXFLOW_PYTHON (the interpreter used to create the venv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${VOXFLOW_PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "[voxflow] creating .venv" >&2
  "$PY" -m venv .venv
fi
VPY="$ROOT/.venv/bin/python"
STAMP=".venv/.voxflow-installed"
# Reinstall when setup.py changed since the last install.
if [ ! -f "$STAMP" ] || [ setup.py -nt "$STAMP" ]; then
  echo "[voxflow] installing voxflow and its dependencies into .venv" >&2
  # (Some machines' pip configuration warns about every unused local index: keep real errors only.)
  "$VPY" -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | { grep -v "^WARNING: Location" || true; } >&2 || true
  "$VPY" -m pip install -q --disable-pip-version-check -e ".[test,plot]" 2>&1 | { grep -v "^WARNING: Location" || true; } >&2
  touch "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
