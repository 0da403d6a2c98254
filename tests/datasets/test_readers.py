"""Malformed files: every reader raises one ValueError naming the file and, where
the content has lines, the line."""

import gzip
import json
import re

import pytest

from sklearn_suite.augment import load_policy, save_policy
from sklearn_suite.datasets import (
    read_chinese_nested_ner,
    read_clutrr,
    read_graphlog,
    read_mnist_5k,
)

CLUTRR_HEADER = "story_edges,edge_types,query_edge,target\n"
CLUTRR_ROW = '"[(0, 1), (1, 2)]","[\'father\', \'sister\']","(0, 2)",aunt\n'
GRAPHLOG_ROW = json.dumps(
    {"edges": [[0, 1, "r1"], [1, 2, "r2"]], "query": [0, 2], "target": "r3"}
)
NER_ROW = json.dumps(
    {"id": 0, "text": "北京大学", "label": {"ORG": {"北京大学": [[0, 3]]}}}
)


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _raises_at(path, line):
    where = f"{path}, line {line}" if line else str(path)
    return pytest.raises(ValueError, match=re.escape(where))


# ------------------------------------------------------------------ CLUTRR
def test_read_clutrr_reads_a_valid_file(tmp_path):
    X, y = read_clutrr(_write(tmp_path, "a.csv", CLUTRR_HEADER + CLUTRR_ROW))
    assert X == [{"edges": [(0, "father", 1), (1, "sister", 2)], "query": (0, 2)}]
    assert y == ["aunt"]


@pytest.mark.parametrize(
    "body, line",
    [
        ("", None),  # empty file
        ('story_edges,target\n"[(0, 1)]",aunt\n', 1),  # missing columns
        (CLUTRR_HEADER + CLUTRR_ROW + '"[(0, 1)","[\'father\']","(0, 1)",aunt\n', 3),
        (CLUTRR_HEADER + '"[(0, 1), (1, 2)]","[\'father\']","(0, 2)",aunt\n', 2),
        (CLUTRR_HEADER + '"[(0, 1, 2)]","[\'father\']","(0, 2)",aunt\n', 2),
        (CLUTRR_HEADER + '"[(0, 1)]","[\'father\']","(0, 1)",\n', 2),  # NaN target
        (CLUTRR_HEADER + '"[(0, 1)]","[7]","(0, 1)",aunt\n', 2),  # int relation
    ],
    ids=["empty", "columns", "truncated", "arity", "pairs", "nan-target", "int-rel"],
)
def test_read_clutrr_names_file_and_line(tmp_path, body, line):
    path = _write(tmp_path, "bad.csv", body)
    with _raises_at(path, line):
        read_clutrr(path)


def test_readers_reject_other_encodings(tmp_path):
    path = _write(
        tmp_path,
        "latin.csv",
        CLUTRR_HEADER + CLUTRR_ROW.replace("aunt", "tanté"),
        "latin-1",
    )
    with pytest.raises(ValueError, match="not UTF-8"):
        read_clutrr(path)
    path = _write(
        tmp_path, "gbk.jsonl", NER_ROW.encode().decode("unicode_escape"), "gbk"
    )
    with pytest.raises(ValueError, match="not UTF-8"):
        read_chinese_nested_ner(path)


# ---------------------------------------------------------------- GraphLog
def test_read_graphlog_reads_a_valid_file(tmp_path):
    X, y = read_graphlog(_write(tmp_path, "g.jsonl", GRAPHLOG_ROW + "\n\n"))
    assert X == [{"edges": [(0, "r1", 1), (1, "r2", 2)], "query": (0, 2)}]
    assert y == ["r3"]


@pytest.mark.parametrize(
    "body, line",
    [
        ("\n", None),
        (GRAPHLOG_ROW + "\n" + GRAPHLOG_ROW[:-9], 2),  # truncated JSON
        (json.dumps({"edges": [], "query": [0, 1]}), 1),  # missing key
        (json.dumps({"edges": [[0, 1]], "query": [0, 1], "target": "r"}), 1),
        (json.dumps({"edges": [[0, 1, "r"]], "query": [0], "target": "r"}), 1),
        (json.dumps({"edges": [[0, 1, None]], "query": [0, 1], "target": "r"}), 1),
        ("[1, 2, 3]", 1),  # JSON, not a graph
    ],
    ids=["empty", "truncated", "missing-key", "arity", "query", "null-rel", "list"],
)
def test_read_graphlog_names_file_and_line(tmp_path, body, line):
    path = _write(tmp_path, "bad.jsonl", body)
    with _raises_at(path, line):
        read_graphlog(path)


# ----------------------------------------------------------------- ChiNesE
@pytest.mark.parametrize(
    "record, line",
    [
        (NER_ROW[:-5], 1),  # truncated JSON
        (json.dumps({"id": 0, "label": {}}), 1),  # no text
        (json.dumps({"text": "北京", "label": {"LOC": {"北京": [[0, 5]]}}}), 1),
        (json.dumps({"text": "北京", "label": {"LOC": {"北京": [[1, 0]]}}}), 1),
        (json.dumps({"text": "北京", "label": {"LOC": {"北京": [[0]]}}}), 1),
        (json.dumps({"text": 5, "label": {}}), 1),
    ],
    ids=["truncated", "no-text", "past-end", "reversed", "arity", "text-int"],
)
def test_read_chinese_nested_ner_names_file_and_line(tmp_path, record, line):
    path = _write(tmp_path, "bad.jsonl", NER_ROW + "\n" + record + "\n")
    with _raises_at(path, line + 1):
        read_chinese_nested_ner(path)


def test_read_chinese_nested_ner_empty_file(tmp_path):
    path = _write(tmp_path, "empty.jsonl", "")
    with _raises_at(path, None):
        read_chinese_nested_ner(path)


# ------------------------------------------------------------------- MNIST
def _mnist(tmp_path, rows):
    path = tmp_path / "mnist.csv.gz"
    with gzip.open(path, "wt") as f:
        for row in rows:
            f.write(",".join(map(str, row)) + "\n")
    return path


def test_read_mnist_5k_reads_one_row(tmp_path):
    row = [0] * 784 + [7]
    row[300] = 255
    images, target = read_mnist_5k(_mnist(tmp_path, [row]), return_X_y=True)
    assert images.shape == (1, 1, 28, 28) and target.tolist() == [7]
    assert images.max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "bad_row, match",
    [
        ([0] * 784 + [1], None),  # fine: the second row is bad
        ([float("nan")] + [0] * 783 + [1], "line 2"),
        ([300] + [0] * 783 + [1], "line 2"),
        ([0] * 10, "row 2"),  # ragged: numpy names the row
    ],
    ids=["valid", "nan", "range", "ragged"],
)
def test_read_mnist_5k_names_the_row(tmp_path, bad_row, match):
    path = _mnist(tmp_path, [[0] * 784 + [3], bad_row])
    if match is None:
        assert read_mnist_5k(path, return_X_y=True)[1].tolist() == [3, 1]
        return
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + match):
        read_mnist_5k(path)


def test_read_mnist_5k_wrong_arity(tmp_path):
    path = _mnist(tmp_path, [[0] * 10, [0] * 10])
    with pytest.raises(ValueError, match="should have 785 columns"):
        read_mnist_5k(path)


def test_read_mnist_5k_empty_file(tmp_path):
    path = _mnist(tmp_path, [])
    with pytest.warns(UserWarning), _raises_at(path, None):  # numpy warns on empty
        read_mnist_5k(path)


# ------------------------------------------------------------------ policy
def test_load_policy_refuses_malformed_files(tmp_path):
    good = tmp_path / "p.json"
    save_policy({0: [("Identity", "Identity", "Identity")]}, good)
    assert load_policy(good) == {0: [("Identity", "Identity", "Identity")]}
    text = good.read_text()
    cases = {
        "truncated": text[: len(text) // 2],
        "empty": "",
        "other": json.dumps({"format": "something else"}),
        "unknown-op": text.replace('"Identity"', '"Explode"'),
        "no-triples": text.replace('"triples"', '"tripels"'),
        "no-entry": json.dumps({"format": "sklearn_suite.la3_policy", "policy": []}),
    }
    for name, body in cases.items():
        path = _write(tmp_path, f"{name}.json", body)
        with pytest.raises(ValueError, match=re.escape(str(path))):
            load_policy(path)
    path = _write(
        tmp_path, "latin.json", text.replace("Identity", "Idéntity"), "latin-1"
    )
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_policy(path)
