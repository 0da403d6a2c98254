"""The ``sklearn-suite`` command."""

import pytest

from sklearn_suite.cli import DEMOS, main


def test_demo_quick_prints_the_table_and_writes_pictures(tmp_path, capsys):
    assert main(["demo", "--quick", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header == ["method", "data", "metric", "ours", "baseline", "seconds"]
    for name, _ in DEMOS:
        assert name in out
    assert (tmp_path / "sgs_scalings.png").stat().st_size > 1000
    assert (tmp_path / "la3_policy.png").stat().st_size > 1000
    assert (tmp_path / "results.txt").read_text().splitlines()[0].startswith("method")


def test_unknown_command_exits_with_usage():
    with pytest.raises(SystemExit):
        main(["train"])
