"""Importing voxflow switches TensorFlow's oneDNN CPU kernels on unless the user said otherwise."""

import os
import subprocess
import sys

import pytest

PLATFORM = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "platform")


def _run(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    environ.update(env, PYTHONPATH=PLATFORM, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


CHECK = ("import voxflow, tensorflow\n"
         "from tensorflow.python.util import _pywrap_util_port as p\n"
         "print(p.IsMklEnabled())")


def test_onednn_is_on_after_importing_voxflow():
    # TensorFlow leaves oneDNN off on AMD / AVX2-only CPUs; voxflow's import turns it on.
    assert _run(CHECK) == "True"


@pytest.mark.parametrize("value, expected", [("0", "False"), ("1", "True")])
def test_an_explicit_setting_wins(value, expected):
    assert _run(CHECK, TF_ENABLE_ONEDNN_OPTS=value) == expected
