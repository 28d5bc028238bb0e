"""Regenerate golden/<case>/expected.Dockerfile from the tool's current output.

    python tests/update_golden.py [CASE...]

Read every changed expected file line by line before committing it: the golden files are the spec.
A case whose output equals its input gets no expected file (the spec then says: must stay unchanged).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.golden_support import GOLDEN, cases, run_case  # noqa: E402


def main(names: list[str]) -> None:
    for case in cases():
        if names and case.name not in names:
            continue
        output = run_case(case.path)
        expected = case.path / "expected.Dockerfile"
        source = (case.path / "Dockerfile").read_bytes()
        if output == source:
            if expected.exists():
                expected.unlink()
            print(f"{case.name}: unchanged (no expected file)")
        else:
            old = expected.read_bytes() if expected.exists() else None
            expected.write_bytes(output)
            print(f"{case.name}: {'updated' if old != output else 'same'}")
    print(f"golden folder: {GOLDEN}")


if __name__ == "__main__":
    main(sys.argv[1:])
