"""Progress in a log file is plain lines, never carriage-return redraws."""

import io

from voxflow.progress import PlainProgress, progress_bar


def test_progress_to_a_file_is_plain_periodic_lines(monkeypatch):
    monkeypatch.setenv("VOXFLOW_PROGRESS_SECONDS", "0")
    log = io.StringIO()
    bar = progress_bar(range(10, 13), total=12, initial=9, desc="train", file=log)
    assert isinstance(bar, PlainProgress)
    for step in bar:
        bar.set_postfix(loss=f"{step / 10:.2f}")
    bar.close()
    text = log.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0].startswith("train: 10/12 it (83%)") and lines[-1].startswith("train: 12/12 it (100%)")
    assert lines[-1].endswith("loss=1.20") and len(lines) == 3  # the final line is not repeated


def test_download_progress_in_a_log_reaches_the_end(monkeypatch):
    monkeypatch.setenv("VOXFLOW_PROGRESS_SECONDS", "3600")  # no periodic line: only the final one
    log = io.StringIO()
    with progress_bar(total=3 * 2**20, desc="weights.tar.gz", unit="B", unit_scale=True, file=log) as bar:
        bar.update(3 * 2**20)
    assert log.getvalue().startswith("weights.tar.gz: 3.0 MiB/3.0 MiB (100%)")


def test_a_disabled_bar_prints_nothing(capsys):
    bar = progress_bar(range(3), total=3, disable=True)
    assert list(bar) == [0, 1, 2]
    bar.close()
    assert capsys.readouterr().err == ""
