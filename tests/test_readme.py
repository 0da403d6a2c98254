"""The README's commands and code run as written."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_usage_snippet_runs(capsys):
    (snippet,) = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    exec(compile(snippet, "README.md", "exec"), {})
    out = capsys.readouterr().out
    accuracy = float(out.splitlines()[0])
    assert accuracy > 0.8  # chance is 0.1
    assert "'scaling':" in out  # the grid search's best parameters


def test_quick_start_commands_are_what_ci_runs():
    commands = re.findall(r"^bash dev\.sh (\w+)", README, flags=re.M)
    assert commands[:2] == ["demo", "test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash dev.sh test" in ci and "bash dev.sh demo --quick" in ci
    assert "bash dev.sh docs" in ci  # the docs build runs every example
