#!/usr/bin/env bash
# Set up (.venv + install) and run the test suite. Extra arguments go to pytest,
# e.g. `bash scripts/test.sh -m slow` for the heavier checks kept out of CI.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
"$VPY" -m pytest -q "$@"
