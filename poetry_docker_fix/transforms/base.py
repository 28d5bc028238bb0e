"""What every pass is: a name, a one-line description, and a pure function from a document to edits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..refactor.document import Document
from ..refactor.edits import Edit
from ..refactor.facts import Context


@dataclass
class Change:
    """One change a pass makes, with the reason shown to users (`--explain`)."""

    line: int  # 1-based line, in the document the pass was given, where the change starts
    summary: str  # what changes
    reason: str  # why
    original_line: int | None = None  # the same place in the file as given (set by the pipeline)


@dataclass
class PassResult:
    edits: list[Edit] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why nothing (or not everything) was done; warnings

    def change(self, edit: Edit | list[Edit], line: int, summary: str, reason: str) -> None:
        self.edits.extend(edit if isinstance(edit, list) else [edit])
        self.changes.append(Change(line, summary, reason))


class Pass:
    """Base class. Subclasses set `name`, `description` and `safe`, and implement `run`.

    `safe = False` marks a pass whose change can alter how the image behaves beyond the optimisation it
    names (for instance, needing BuildKit); `--explain` says so.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    safe: ClassVar[bool] = True

    def run(self, document: Document, context: Context) -> PassResult:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def doc(cls) -> str:
        return (cls.__doc__ or "").strip()
