"""Poetry versions: parsing, constraint matching, and what each version can do.

The capability floors come from ../shared/FACTS.md (checked against every Poetry release from 1.1 to 2.5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

# Releases known when this version of the tool was made, newest first. Used only to turn a
# `requires-poetry` range into one concrete version to pin (the newest known release it admits).
KNOWN_RELEASES = (
    "2.5.1 2.5.0 2.4.3 2.4.2 2.4.1 2.4.0 2.3.4 2.3.3 2.3.2 2.3.1 2.3.0 2.2.1 2.2.0 2.1.4 2.1.3 2.1.2 2.1.1"
    " 2.1.0 2.0.1 2.0.0 1.8.5 1.8.4 1.8.3 1.8.2 1.8.1 1.8.0 1.7.1 1.7.0 1.6.1 1.6.0 1.5.1 1.5.0 1.4.2 1.4.1"
    " 1.4.0 1.3.2 1.3.1 1.3.0 1.2.2 1.2.1 1.2.0 1.1.15"
).split()

_VERSION = re.compile(r"^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(\S*)\s*$")


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int = 0
    patch: int = 0
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> "Version | None":
        match = _VERSION.match(text)
        if not match:
            return None
        major, minor, patch, _suffix = match.groups()
        return cls(int(major), int(minor or 0), int(patch or 0), text.strip())

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.key < other.key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def at_least(self, major: int, minor: int = 0, patch: int = 0) -> bool:
        return self.key >= (major, minor, patch)

    def __str__(self) -> str:
        return self.text or f"{self.major}.{self.minor}.{self.patch}"


def version(text: str) -> Version:
    parsed = Version.parse(text)
    if parsed is None:
        raise ValueError(f"not a version: {text!r}")
    return parsed


def _clause_matches(clause: str, candidate: Version) -> bool:
    clause = clause.strip()
    if not clause or clause == "*":
        return True
    match = re.match(r"^(\^|~=|~|==|!=|>=|<=|>|<|=)?\s*(.+)$", clause)
    if not match:
        raise ValueError(clause)
    operator, rest = match.groups()
    operator = operator or "=="
    if rest.endswith(".*"):
        prefix = [int(p) for p in rest[:-2].split(".")]
        inside = list(candidate.key[: len(prefix)]) == prefix
        return inside if operator in ("==", "=") else not inside if operator == "!=" else False
    bound = version(rest)
    parts = len(rest.split("."))
    if operator == "^":
        if bound.major:
            upper = (bound.major + 1, 0, 0)
        elif bound.minor or parts == 1:
            upper = (0, bound.minor + 1, 0) if parts > 1 else (1, 0, 0)
        else:
            upper = (0, 0, bound.patch + 1)
        return bound.key <= candidate.key < upper
    if operator in ("~", "~="):
        if operator == "~=" and parts >= 2:
            upper = (bound.major + 1, 0, 0) if parts == 2 else (bound.major, bound.minor + 1, 0)
        else:
            upper = (bound.major + 1, 0, 0) if parts == 1 else (bound.major, bound.minor + 1, 0)
        return bound.key <= candidate.key < upper
    comparisons = {
        "==": candidate.key == bound.key,
        "=": candidate.key == bound.key,
        "!=": candidate.key != bound.key,
        ">=": candidate.key >= bound.key,
        "<=": candidate.key <= bound.key,
        ">": candidate.key > bound.key,
        "<": candidate.key < bound.key,
    }
    return comparisons[operator]


def satisfies(candidate: Version, constraint: str) -> bool:
    """True when `candidate` meets a Poetry/PEP 440 constraint such as `>=2.0,<3.0`, `^2.1` or `2.1.*`.

    `||` separates alternatives; `,` (or a space between clauses) means all of them. Raises ValueError on a
    constraint it cannot read.
    """
    for alternative in constraint.split("||"):
        clauses = re.split(r",|\s+(?=[<>=!~^])", alternative.strip())
        if all(_clause_matches(clause, candidate) for clause in clauses):
            return True
    return False


def newest_release_satisfying(constraint: str) -> Version | None:
    for text in KNOWN_RELEASES:
        candidate = version(text)
        if satisfies(candidate, constraint):
            return candidate
    return None


LATEST_KNOWN = version(KNOWN_RELEASES[0])


@dataclass(frozen=True)
class PoetryCapabilities:
    """What the Poetry CLI of one version accepts (FACTS.md, 'Poetry CLI, by version')."""

    version: Version

    @property
    def has_groups(self) -> bool:  # --only/--with/--without, --only-root
        return self.version.at_least(1, 2)

    @property
    def has_no_dev(self) -> bool:  # removed in 2.0
        return not self.version.at_least(2, 0)

    @property
    def without_missing_group_fails(self) -> bool:
        return self.version.at_least(1, 5)

    @property
    def reads_dependency_groups(self) -> bool:  # PEP 735
        return self.version.at_least(2, 2)

    def reads_lock(self, lock_version: str | None) -> bool:
        """Whether `poetry install` of this version reads a poetry.lock of this lock-version (FACTS.md: 1.1 errors
        on 2.0 locks; 1.2 reads 2.0 but errors on 2.1; 1.3 and newer read 2.1). Unknown lock versions pass."""
        floor = {"2.0": (1, 2), "2.1": (1, 3)}.get(lock_version or "")
        return floor is None or self.version.at_least(*floor)
