"""What the file readers share: reading text safely and naming the file and the
line of malformed content."""

from pathlib import Path


def malformed(path, line, problem):
    """The readers' error: file, line and what is wrong there."""
    where = f"{path}, line {line}" if line is not None else str(path)
    return ValueError(f"{where}: {problem}")


def read_text(path):
    """The file's text as UTF-8; an empty file is an error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise malformed(path, None, f"not UTF-8 text ({exc.reason}).") from exc
    if not text.strip():
        raise malformed(path, None, "the file is empty.")
    return text
