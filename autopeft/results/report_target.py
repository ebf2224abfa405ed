"""Where ``report --out`` may write: a file, never a folder, and never over a file autopeft did
not write (issue 39: a spec YAML named by mistake became HTML, and PNGs beside it were replaced).

autopeft's own files are told by a mark inside them: the page's title and the PNGs' ``Software``
text chunk (``PNG_METADATA``, which ``figure_files`` writes)."""

from __future__ import annotations

from pathlib import Path

from autopeft.errors import UsageError

PAGE_MARK = b"<title>autopeft study"
PNG_MARK = b"autopeft"
PNG_METADATA = {"Software": "autopeft (matplotlib)"}
HEAD_BYTES = 4096  # the marks sit at the start of each file


def check_report_target(out: Path, pictures: list[Path]) -> None:
    """Refuse ``out`` if it is a folder, or if it or a picture beside it is a file autopeft did not write."""
    if out.is_dir() or out.name in ("", ".", ".."):
        raise UsageError(
            f"--out: {out} is a folder; the report is one HTML file (its PNGs go beside it). "
            f"Fix: name the file, e.g. --out {out / 'report.html'}"
        )
    for path, mark in [(out, PAGE_MARK), *((picture, PNG_MARK) for picture in pictures)]:
        if path.exists() and not _holds(path, mark):
            raise UsageError(
                f"--out: {path} exists and is not a report autopeft wrote; writing the report would replace it. "
                "Fix: give another --out (a new file, or a report written before), or move that file away"
            )


def _holds(path: Path, mark: bytes) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as file:
        return mark in file.read(HEAD_BYTES)
