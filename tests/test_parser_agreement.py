"""The pipeline's instruction splitter reads every Dockerfile exactly as dockerfile-parse does.

Passes re-read the file after every edit, so the engine splits instructions with its own loop
(`document._parse_lines`) instead of building a dockerfile-parse object each time. dockerfile-parse stays the
reference: `pipeline.check_parse` compares the two on every input, and these tests compare them on the golden
inputs and outputs, on hand-picked corner cases, and on generated line soups (Hypothesis).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poetry_docker_fix.refactor.document import Document, _parse_lines
from poetry_docker_fix.refactor.facts import Context, Options
from poetry_docker_fix.refactor.pipeline import InternalError, Status, check_parse, refactor, select_passes
from poetry_docker_fix.refactor.project import load_project
from tests.helpers import CLASSIC, LOCK_1_8, make_project

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def reference(lines: list[str]):
    return Document._parse_uncached("".join(line + "\n" for line in lines))


def assert_agree(text: str) -> None:
    document = Document.from_text(text)
    assert _parse_lines(document.lines) == reference(document.lines), text


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*/*Dockerfile")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden_files(path: Path) -> None:
    assert_agree(path.read_text(encoding="utf-8"))


CORNERS = {
    "keyword alone": "FROM python:3.11\nRUN\nCMD\n",
    "keyword and spaces": "FROM python:3.11\nRUN   \nUSER\t\n",
    "continuation then comment then end": "FROM x\nRUN a \\\n# note\n  b\n",
    "continuation into a blank line": "FROM x\nRUN a \\\n\nRUN b\n",
    "continuation with trailing spaces": "FROM x\nRUN a \\   \n  && b\n",
    "continuation with an empty first value": "FROM x\nRUN \\\n    a \\\n    b\n",
    "continuation open at the end": "FROM x\nRUN a \\\n",
    "doubled escape then a blank line": "FROM x\nRUN a \\\\\n   \nRUN b \\\\\n\\\n",
    "escape directive": "# escape=`\nFROM x\nRUN a `\n  b\nRUN c \\\n",
    "syntax then escape": "# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN a `\n b\n",
    "escape after an instruction is a comment": "FROM x\n# escape=`\nRUN a `\nRUN b\n",
    "indented comment inside continuation": "FROM x\nRUN a \\\n    # c \\\n    b\n",
    "unicode spaces": "FROM\u00a0x\nRUN\u2003a \\\u3000\n b\n",
    "carriage return inside a line": "FROM x\nRUN a\rb\nCMD [\"c\"]\r \n",
    "form feed": "FROM x\n\x0cRUN a\x0c\\\x0c\n b\n",
    "lower case and tabs": "\tfrom x as y\n\trun a \\\n\t\tb\n",
    "only comments": "# a\n# b\n",
    "empty": "",
}


@pytest.mark.parametrize("text", CORNERS.values(), ids=CORNERS.keys())
def test_corner_cases(text: str) -> None:
    assert_agree(text)


LINE = st.one_of(
    st.sampled_from([
        "", " ", "\t", "FROM python:3.11", "from x AS y", "RUN a", "RUN", "run \\", "  && b \\", "\\", " \\ ",
        "# c", "  # c \\", "#escape=`", "# escape = \\", "# syntax=docker/dockerfile:1", "RUN a `", "  b `",
        "COPY . .", "ENV A=1 \\", "    B=2", "CMD [\"x\"]", "\u00a0RUN x", "RUN x\x0c\\", "x\ry",
    ]),
    st.text(alphabet=st.sampled_from(list("RUNFOM #\\`\t =ab\u00a0\x0c\r")), max_size=12),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(LINE, max_size=14))
def test_generated_line_soups(lines: list[str]) -> None:
    assert _parse_lines(lines) == reference(lines)


def test_check_parse_reports_a_disagreement() -> None:
    document = Document.from_text("FROM x\nRUN a\n")
    document._instructions = document.instructions[:1]  # as if the splitter had missed the RUN
    with pytest.raises(InternalError, match="line 2 is read differently by dockerfile-parse"):
        check_parse(document)


def test_a_disagreement_fails_the_file_and_leaves_it_untouched(tmp_path, monkeypatch) -> None:
    project = load_project(make_project(tmp_path, CLASSIC, LOCK_1_8))
    text = "FROM python:3.11\nRUN pip install poetry\nCOPY . .\nRUN poetry install\n"
    monkeypatch.setattr("poetry_docker_fix.refactor.document._parse_lines", lambda lines: [])
    result = refactor(text, Context(project, Options()), select_passes())
    assert result.status is Status.FAILED
    assert result.output == text
    assert "read differently by dockerfile-parse" in (result.reason or "")
