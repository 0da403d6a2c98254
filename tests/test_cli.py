"""The ``sklearn-suite`` command and the GPU check script."""

import runpy
from pathlib import Path

import pytest

from sklearn_suite import cli
from sklearn_suite.cli import DEMOS, main

ROOT = Path(__file__).resolve().parents[1]


def _table_header(out):
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("method"))
    return lines, at


def test_quick_demo_of_two_estimators_prints_table_notes_and_pictures(tmp_path, capsys):
    only = ["SGSConvClassifier", "CATARTRecommender"]
    assert (
        main(["demo", "--quick", "--output-dir", str(tmp_path), "--only", *only]) == 0
    )
    out = capsys.readouterr().out
    lines, at = _table_header(out)
    assert lines[at].split() == ["method", "data", "metric", "ours", "baseline",
                                 "seconds"]  # fmt: skip
    assert "smoke test" in out  # quick mode says its numbers are not evidence
    rows = lines[at + 2 : at + 4]
    assert [row.split()[0] for row in rows] == only
    sgs_accuracy = float(rows[0].split()[rows[0].split().index("accuracy") + 1])
    assert sgs_accuracy > 0.5  # even the smoke test learns (chance is 0.1)
    assert "notes:" in out
    assert (tmp_path / "sgs_scalings.png").stat().st_size > 1000
    assert (tmp_path / "catart_domains.png").stat().st_size > 1000
    assert (tmp_path / "results.txt").read_text().strip() in out


@pytest.mark.slow
def test_quick_demo_runs_every_estimator(tmp_path, capsys):
    # CI runs the same through `bash dev.sh demo --quick` (.ci/run)
    assert main(["demo", "--quick", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines, at = _table_header(out)
    for name, _ in DEMOS:
        assert name in out
    assert "R5's best-scored rules" in out
    for picture in ("sgs_scalings", "la3_policy", "gennape_scatter", "aiop_scatter",
                    "catart_domains", "r5_lengths", "recguru_discriminator",
                    "glyphdraw_samples"):  # fmt: skip
        assert (tmp_path / f"{picture}.png").stat().st_size > 1000


def _fake_row(name):
    return {"method": name, "data": "d", "metric": "m", "ours": 1.0,
            "baseline": 0.5, "baseline_name": "b", "pictures": []}  # fmt: skip


def test_rows_are_written_as_they_finish_and_ctrl_c_stops_the_demo(
    tmp_path, monkeypatch, capsys
):
    seen = []

    def first(output_dir, **kwargs):
        seen.append(kwargs["preset"])
        return _fake_row("first")

    def interrupted(output_dir, **kwargs):
        # the first row is on disk before the second estimator starts
        assert "first" in (Path(output_dir) / "results.txt").read_text()
        raise KeyboardInterrupt

    def never(output_dir, **kwargs):
        raise AssertionError("the demo went on after Ctrl-C")

    module = type("Demos", (), {"first": first, "interrupted": interrupted,
                                "never": never})  # fmt: skip
    monkeypatch.setitem(__import__("sys").modules, "fake_demos", module)
    monkeypatch.setattr(
        cli,
        "DEMOS",
        [("A", "fake_demos:first"), ("B", "fake_demos:interrupted"),
         ("C", "fake_demos:never")],
    )  # fmt: skip
    assert main(["demo", "--full", "--output-dir", str(tmp_path)]) == 130
    assert seen == ["full"]
    assert "interrupted" in capsys.readouterr().err
    written = (tmp_path / "results.txt").read_text()
    assert "first" in written and "preset full" in written


def test_quick_and_full_are_exclusive_and_unknown_commands_exit():
    with pytest.raises(SystemExit):
        main(["demo", "--quick", "--full"])
    with pytest.raises(SystemExit):
        main(["train"])


def test_every_demo_has_the_three_presets():
    import importlib

    for _, target in DEMOS:
        module = importlib.import_module(target.partition(":")[0])
        tables = [v for k, v in vars(module).items() if k.endswith("SETTINGS")]
        assert tables, target
        for table in tables:
            assert set(table) == set(cli.PRESETS)


def test_gpu_check_script_runs_its_code_paths_on_cpu(tmp_path):
    script = runpy.run_path(str(ROOT / "benchmarks" / "gpu_check.py"))
    status = script["main"](
        ["--device", "cpu", "--tiny", "--output", str(tmp_path / "check"),
         "--only", "SGSConvClassifier", "R5RuleLearner"]
    )  # fmt: skip
    assert status == 0
    table = (tmp_path / "check.md").read_text()
    assert "| SGSConvClassifier |" in table and "| R5RuleLearner |" in table
    assert "Error" not in table
