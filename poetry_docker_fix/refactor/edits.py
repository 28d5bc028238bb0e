"""Line-range edits: the only way a pass changes a Dockerfile.

An `Edit` replaces raw lines [start, end) with new lines; `start == end` inserts before `start`. Lines outside
every edit's range are carried over unchanged, which is what keeps untouched bytes identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class EditConflict(Exception):
    """Two edits of one pass touch the same lines: a bug in that pass."""


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    lines: tuple[str, ...]
    # For lines moved rather than written: the index (in the document the edit applies to) each new line comes
    # from, or None for a new one. Only reports use it, to name a moved line by the place it came from.
    sources: tuple[int | None, ...] | None = field(default=None, compare=False)

    @classmethod
    def replace(cls, start: int, end_inclusive: int, lines: list[str] | tuple[str, ...]) -> "Edit":
        return cls(start, end_inclusive + 1, tuple(lines))

    @classmethod
    def insert(cls, before: int, lines: list[str] | tuple[str, ...],
               sources: tuple[int | None, ...] | None = None) -> "Edit":
        return cls(before, before, tuple(lines), sources)

    @classmethod
    def delete(cls, start: int, end_inclusive: int) -> "Edit":
        return cls(start, end_inclusive + 1, ())


def apply_edits(lines: list[str], edits: list[Edit]) -> list[str]:
    """Apply edits from the bottom up so earlier indices stay valid. Overlapping ranges raise EditConflict;
    several insertions at one point keep the order they were given in."""
    indexed = sorted(enumerate(edits), key=lambda pair: (pair[1].start, pair[1].end, pair[0]))
    previous_end = -1
    previous: Edit | None = None
    for _, edit in indexed:
        if edit.start < 0 or edit.end > len(lines) or edit.start > edit.end:
            raise EditConflict(f"edit outside the file: {edit}")
        if previous is not None and edit.start < previous_end:
            raise EditConflict(f"overlapping edits: {previous} and {edit}")
        if edit.end > edit.start or previous_end < edit.start:
            previous_end = max(previous_end, edit.end)
        previous = edit
    result = list(lines)
    # Reverse order of position; for equal positions, later-given insertions go in first so that the
    # earlier-given ones end up above them.
    for _, edit in sorted(indexed, key=lambda pair: (pair[1].start, pair[1].end, pair[0]), reverse=True):
        result[edit.start : edit.end] = list(edit.lines)
    return result


def delete_block(lines: list[str], start: int, end_inclusive: int) -> Edit:
    """Delete lines [start, end] and, when blank lines surround them, one of those, so no double blank is left."""
    before_blank = start > 0 and lines[start - 1].strip() == ""
    after_blank = end_inclusive + 1 < len(lines) and lines[end_inclusive + 1].strip() == ""
    if before_blank and after_blank:
        return Edit.delete(start, end_inclusive + 1)
    return Edit.delete(start, end_inclusive)


def tidy_continuations(lines: list[str]) -> list[str]:
    """After text was cut out of an instruction: drop the continuation lines left empty (`    \\` or blank) and a
    backslash left dangling on the last line."""
    kept = [line for index, line in enumerate(lines) if index == 0 or line.strip() not in ("", "\\")]
    code = [index for index, line in enumerate(kept) if index == 0 or not line.lstrip().startswith("#")]
    last = code[-1] if code else None
    if last is not None and kept[last].rstrip().endswith("\\"):
        kept[last] = kept[last].rstrip()[:-1].rstrip()
    return kept
