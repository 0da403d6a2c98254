"""The ``sklearn-suite`` command."""

import pytest

from sklearn_suite.cli import DEMOS, main


def test_demo_quick_prints_the_table_and_writes_pictures(tmp_path, capsys):
    assert main(["demo", "--quick", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("method"))
    assert lines[at].split() == [
        "method",
        "data",
        "metric",
        "ours",
        "baseline",
        "seconds",
    ]
    assert len(lines[at + 2 :]) >= len(DEMOS)  # one row per estimator
    assert at >= 1  # the Mulco row prints a sentence with its entities first
    for name, _ in DEMOS:
        assert name in out
    assert (tmp_path / "sgs_scalings.png").stat().st_size > 1000
    assert (tmp_path / "la3_policy.png").stat().st_size > 1000
    assert (tmp_path / "gennape_scatter.png").stat().st_size > 1000
    assert (tmp_path / "aiop_scatter.png").stat().st_size > 1000
    assert (tmp_path / "catart_domains.png").stat().st_size > 1000
    assert (tmp_path / "r5_lengths.png").stat().st_size > 1000
    assert "R5's best-scored rules" in out
    assert (tmp_path / "recguru_discriminator.png").stat().st_size > 1000
    assert (tmp_path / "glyphdraw_samples.png").stat().st_size > 1000
    assert (tmp_path / "results.txt").read_text().splitlines()[0].startswith("method")


def test_unknown_command_exits_with_usage():
    with pytest.raises(SystemExit):
        main(["train"])
