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
# Reinstall when setup.py changed since the last install, or when the applications' console scripts
# (net_segment, net_gan, ...: entry points written at install time) are not those installed.
SCRIPTS_NOW="$(grep -ho '^    CONSOLE_SCRIPT = "[a-z_]*"' platform/voxflow/applications/*.py | sort | tr -d '\n')"
if [ ! -f "$STAMP" ] || [ setup.py -nt "$STAMP" ] || [ "$(cat "$STAMP")" != "$SCRIPTS_NOW" ]; then
  echo "[voxflow] installing voxflow and its dependencies into .venv" >&2
  # pip's own chatter (warnings about local indexes, editable installs) goes to a log shown on failure.
  "$VPY" -m pip install -q --disable-pip-version-check --upgrade pip > .venv/install.log 2>&1 || true
  if ! "$VPY" -m pip install -q --disable-pip-version-check -e ".[test,plot]" >> .venv/install.log 2>&1; then
    cat .venv/install.log >&2
    echo "[voxflow] installation failed (log above, also in .venv/install.log)" >&2
    exit 1
  fi
  printf '%s' "$SCRIPTS_NOW" > "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
