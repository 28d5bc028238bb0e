"""no-dev: install only what production needs, with a flag the pinned Poetry accepts."""

from __future__ import annotations

import functools
import re
import sys

from ..refactor.compose import compose_programs
from ..refactor.document import Document, Instruction, per_object
from ..refactor.edits import Edit
from ..refactor.entrypoint import analyse, strip_poetry_run
from ..refactor.facts import (
    DEV_TOOLS,
    Context,
    descendants,
    effective_poetry,
    feeds_final_image,
    install_runs,
    install_stage,
    is_dev_group,
)
from ..refactor.project import normalise_name
from ..refactor.shell import (
    INSTALL_VALUE_OPTIONS,
    POETRY_INSTALL,
    locate,
    option_values,
    poetry_installs,
    run_commands,
)
from ..refactor.versions import PoetryCapabilities
from .base import Pass, PassResult

_NO_DEV = re.compile(r"\s--no-dev(?![\w-])")
_WITHOUT = re.compile(r"\s--without(?:=|\s+)(['\"]?)(?P<groups>[\w.,-]+)\1(?![\w-])")


class NoDev(Pass):
    """Leave development dependencies out of the image.

    What: `poetry install` gets `--only main` (Poetry 1.2+) or `--no-dev` (1.1), chosen for the Poetry version
    the Dockerfile pins (else the one that wrote the lock). A broken flag is repaired: `--no-dev` on 1.2+
    (deprecated, removed in 2.0) and `--without dev` on 1.5+ when the project has no `dev` group (Poetry
    exits with `Group(s) not found`). When the project has a non-optional group that does not look like a
    development group, only the development-looking groups are left out (`--without test,lint`) so the app
    keeps what it may need.
    Why: linters, test runners and type checkers have no place in a production image and make it bigger.
    Example: `RUN poetry install` → `RUN poetry install --only main`.
    An install with `--with` (which adds optional groups to the non-optional ones, dev included) gets
    `--without` for the development-looking groups it does not name.
    Left alone: an install that already chooses groups (`--only`, `--without` on existing groups,
    `--only-root`), and a project without any group to leave out.
    """

    name = "no-dev"
    description = "Install without development dependencies, with a flag that works on the pinned Poetry"

    def run(self, document: Document, context: Context) -> PassResult:
        result = PassResult()
        stage = install_stage(document)
        if stage is None or context.project is None:
            if stage is not None:
                result.notes.append("no pyproject.toml in the build context: cannot tell the project's groups")
            return result
        if not feeds_final_image(document, stage):
            what = (f"stage `{stage.name}`" if stage.name
                    else f"the unnamed stage at line {stage.from_instruction.line_number}")
            result.notes.append(f"{what} is not part of the final image (a development or test "
                                "target): its dependencies are left as written")
            return result
        if stage.name and is_dev_group(stage.name):
            result.notes.append(f"stage `{stage.name}` is named for development: its dependencies are left as written")
            return result
        if all(option_values(arguments, "--only") is not None and "--no-dev" not in arguments
               for instruction in install_runs(stage) for arguments in poetry_installs(instruction)):
            return result  # every install already chooses its groups (`--only main`): nothing to decide here
        imported = _dev_package_imported(context.project, _inline_code(document, stage))
        if imported is not None:
            result.notes.append(f"{imported[0]} imports {imported[1]}, which only a development group installs: "
                                "development dependencies are kept (declare it in the main dependencies to allow it)")
            return result
        tool = _dev_tool_in_use(document, stage, context.project)
        if tool is not None:
            result.notes.append(f"the image, or a stage built from it, runs `{tool}`, a development tool: development "
                                "dependencies are kept")
            return result
        composed = next(((name, program) for name, program in compose_programs(context.project)
                         if _is_dev_program(context.project, program)), None)
        if composed is not None:
            result.notes.append(f"{composed[0]} runs `{composed[1]}`, a development tool, in a service that may run "
                                "this image: development dependencies are kept")
            return result
        version, known = effective_poetry(document, stage, context)
        capabilities = PoetryCapabilities(version)
        project = context.project
        groups = {name for name, optional in project.groups.items() if not optional}
        if capabilities.reads_dependency_groups:
            groups |= set(project.dependency_groups)
        # Every group a `--without` may name without `Group(s) not found`: the optional ones and main too.
        self.existing = groups | set(project.groups) | {"main"}
        for instruction in install_runs(stage):
            installs = poetry_installs(instruction)
            if len(installs) > 1:
                result.notes.append(f"line {instruction.line_number}: several `poetry install` in one RUN; left alone")
                continue
            self._fix(document, instruction, installs[0], capabilities, groups, known, result)
        return result

    def _fix(self, document: Document, instruction: Instruction, arguments: list[str],
             capabilities: PoetryCapabilities, groups: set[str], known: bool, result: PassResult) -> None:
        line = instruction.line_number
        version_text = f"Poetry {capabilities.version}" + ("" if known else " (assumed: no pinned version)")
        if "--only-root" in arguments or "--all-groups" in arguments:
            return  # `--all-groups` asks for every group (and Poetry refuses --only/--with/--without beside it)
        variable = _variable_argument(arguments)
        if variable is not None:
            result.notes.append(f"line {line}: `{variable}` may hold install options (`--with dev`, which `--only "
                                "main` would override): the groups are the build's choice; left alone")
            return
        group_options = [o for o in ("--only", "--with", "--without") if option_values(arguments, o) is not None]
        named = (option_values(arguments, "--with") or []) + (option_values(arguments, "--without") or [])
        broken = capabilities.without_missing_group_fails and any(
            "$" not in group and group not in self.existing for group in named)  # `Group(s) not found` first
        if "--no-dev" in arguments and group_options and capabilities.has_no_dev and capabilities.has_groups \
                and not broken:
            # Poetry 1.2-1.8 reads `--no-dev` as `--only main`, which overrides --with/--without: written out, the
            # install stays what it was, and reads the same on 2.0, which removed `--no-dev`.
            _no_dev_to_only_main(document, instruction, result, f"{version_text} reads `--no-dev` as `--only main`, "
                                 "which overrides the other group options (Poetry says so when it runs); written "
                                 "out, the install stays the same, and Poetry 2.0, which removed `--no-dev`, reads "
                                 "it too")
            return
        if "--no-dev" in arguments and group_options and capabilities.has_groups:
            self._drop_no_dev(document, instruction, arguments, capabilities, groups, version_text, result)
            return
        if "--no-dev" in arguments:
            if capabilities.has_no_dev and not capabilities.has_groups:
                return
            why = "removed in Poetry 2.0" if not capabilities.has_no_dev else "deprecated since Poetry 1.2"
            _no_dev_to_only_main(document, instruction, result, f"`--no-dev` is {why}; {version_text} takes "
                                 "`--only main`, which works on every Poetry from 1.2")
            return
        without = option_values(arguments, "--without")
        if without is not None:
            if any("$" in group for group in without):
                return  # `--without $SKIP`: the groups are the build's choice, not known here
            missing = [group for group in without if group not in self.existing]
            if missing and capabilities.without_missing_group_fails:
                located = locate(document, instruction, _WITHOUT)
                if located is None:
                    result.notes.append(f"line {line}: cannot locate `--without` to repair")
                    return
                index, match = located
                text = document.lines[index]
                kept = [group for group in without if group in self.existing]
                replacement = _without_replacement(kept, arguments, groups)
                result.change(
                    Edit.replace(index, index, [text[: match.start()] + replacement + text[match.end():]]),
                    index + 1, f"`--without {','.join(without)}` →{replacement or ' dropped'}",
                    f"the project has no group {', '.join(missing)}: {version_text} exits with "
                    "`Group(s) not found` (Poetry 1.5 and newer)")
            return
        if option_values(arguments, "--only") is not None:
            return
        chosen = option_values(arguments, "--with")
        if chosen is not None:
            self._with_groups(document, instruction, chosen, capabilities, groups, result)
            return
        if not capabilities.has_groups:
            flag, why = " --no-dev", f"{version_text} predates dependency groups: `--no-dev` is its flag"
            if "dev" not in groups:
                return
        else:
            if not groups:
                result.notes.append("the project has no dependency groups: nothing to leave out")
                return
            development = sorted(g for g in groups if is_dev_group(g))
            other = sorted(g for g in groups if not is_dev_group(g))
            if not development:
                result.notes.append(f"groups {', '.join(other)} do not look like development groups; all kept")
                return
            if other:
                flag = f" --without {','.join(development)}"
                why = (f"leaves out {', '.join(development)}; kept {', '.join(other)}, which may be needed at run "
                       "time (the group names do not say)")
            else:
                flag = " --only main"
                why = ("`--only main` works on every Poetry from 1.2 and, unlike `--without dev`, does not fail "
                       "when a dev group is missing")
        _add_to_install(document, instruction, flag, result, "development dependencies (linters, test runners) do "
                        f"not belong in a production image; {why}")

    @staticmethod
    def _with_groups(document: Document, instruction: Instruction, chosen: list[str],
                     capabilities: PoetryCapabilities, groups: set[str], result: PassResult) -> None:
        """`poetry install --with server`: `--with` adds optional groups to the non-optional ones, so a
        non-optional `dev` group is installed all the same. `--without` leaves out the development-looking ones
        the install does not name; `--only main` would not do, as it overrides `--with`."""
        if not capabilities.has_groups:
            return
        if any("$" in group for group in chosen):
            result.notes.append(f"line {instruction.line_number}: `--with {','.join(chosen)}` names groups through a "
                                "variable, which may ask for dev: left alone")
            return
        development = _development_left_out(groups, chosen)
        if not development:
            return
        _add_to_install(document, instruction, f" --without {','.join(development)}", result,
                        f"`--with {','.join(chosen)}` adds to the non-optional groups, so "
                        f"{', '.join(development)} would be installed too: development dependencies do not belong in "
                        "a production image (`--only main` would override `--with`)")

    def _drop_no_dev(self, document: Document, instruction: Instruction, arguments: list[str],
                     capabilities: PoetryCapabilities, groups: set[str], version_text: str,
                     result: PassResult) -> None:
        """`--no-dev` beside `--only/--with/--without`: those choose the groups, so `--no-dev` goes (it is an
        error from 2.0), or becomes the `--without` of the development groups beside `--with` alone; a
        `--without` naming a missing group is repaired in the same edit."""
        line = instruction.line_number
        no_dev = locate(document, instruction, _NO_DEV)
        if no_dev is None:
            result.notes.append(f"line {line}: cannot locate `--no-dev` to remove")
            return
        index, match = no_dev
        without = option_values(arguments, "--without") or []
        chosen = option_values(arguments, "--with")
        # `--no-dev` says no dev groups whatever `--with` names, a variable included.
        development = [] if chosen is None or without or option_values(arguments, "--only") is not None else \
            _development_left_out(groups, [group for group in chosen if "$" not in group], variables=False)
        # Beside `--with` alone, `--no-dev` becomes the `--without` that keeps the non-optional development
        # groups out (see _with_groups); otherwise it goes.
        instead = f" --without {','.join(development)}" if development else ""
        cuts = [(match.start(), match.end(), instead)]
        existing = groups | {"main"} | self.existing
        missing = [group for group in without if group not in existing]
        summary = f"`--no-dev` →{instead}" if instead else "drop `--no-dev`"
        if missing and capabilities.without_missing_group_fails:
            located = locate(document, instruction, _WITHOUT)
            if located is None or located[0] != index:
                result.notes.append(f"line {line}: cannot repair `--without` beside `--no-dev`; left alone")
                return
            kept = [group for group in without if group in existing]
            replacement = _without_replacement(kept, arguments, groups)
            cuts.append((located[1].start(), located[1].end(), replacement))
            summary += f" and `--without {','.join(without)}` →{replacement or ' dropped'}"
        text = document.lines[index]
        for start, end, replacement in sorted(cuts, reverse=True):
            text = text[:start] + replacement + text[end:]
        why = (f"`--with {','.join(chosen or [])}` adds to the non-optional groups, so {', '.join(development)} "
               "would be installed too; `--without` leaves them out and keeps what `--with` asks for"
               if development else "the other group options already choose what is installed")
        result.change(Edit.replace(index, index, [text]), index + 1, summary,
                      f"{why}; `--no-dev` is deprecated since Poetry 1.2 and removed in 2.0 ({version_text})")




def _variable_argument(arguments: list[str]) -> str | None:
    """An argument of the install that is a variable on its own (`poetry install --no-root $group`): it may
    expand to options (`--build-arg group="--with dev"`: with `--only main` beside it, a real build of the rewrite
    lost flake8)."""
    for index, argument in enumerate(arguments):
        if "$" in argument and not argument.startswith("-") and (
                index == 0 or arguments[index - 1] not in INSTALL_VALUE_OPTIONS):
            return argument
    return None


def _add_to_install(document: Document, instruction: Instruction, flag: str, result: PassResult, why: str) -> None:
    """`flag` right after `poetry install`, on the line that has it."""
    located = locate(document, instruction, POETRY_INSTALL)
    if located is None:
        result.notes.append(f"line {instruction.line_number}: cannot locate `poetry install` to add{flag}")
        return
    index, match = located
    text = document.lines[index]
    result.change(Edit.replace(index, index, [text[: match.end()] + flag + text[match.end():]]), index + 1,
                  f"install with{flag}", why)


def _no_dev_to_only_main(document: Document, instruction: Instruction, result: PassResult, why: str) -> None:
    """`--no-dev` → `--only main` on the line that has it (beside `--only test` too: Poetry 1.x read that as main
    and test)."""
    located = locate(document, instruction, _NO_DEV)
    if located is None:
        result.notes.append(f"line {instruction.line_number}: cannot locate `--no-dev` to replace")
        return
    index, match = located
    text = document.lines[index]
    result.change(Edit.replace(index, index, [text[: match.start()] + " --only main" + text[match.end():]]),
                  index + 1, "`--no-dev` → `--only main`", why)


def _development_left_out(groups: set[str], chosen: list[str], variables: bool = True) -> list[str]:
    """The non-optional development-looking groups an install with `--with <chosen>` would install too; none
    when a variable names the groups (`--with $GROUPS` may mean dev), unless `variables` is False."""
    if variables and any("$" in group for group in chosen):
        return []
    return sorted(group for group in groups if is_dev_group(group) and group not in chosen)


def _without_replacement(kept: list[str], arguments: list[str], groups: set[str]) -> str:
    """What a `--without` naming missing groups becomes: the groups that exist, else `--only main` — unless
    `--with` chooses optional groups too, which `--only` would override (it wins over --with and --without):
    then it leaves out the development groups `--with` would install too (see _with_groups), or goes."""
    if kept:
        return f" --without {','.join(kept)}"
    chosen = option_values(arguments, "--with")
    if chosen is None:
        return " --only main"
    development = _development_left_out(groups, chosen)
    return f" --without {','.join(development)}" if development else ""


def _development(group: str) -> bool:
    """A group `--only main` leaves out that is for development (dev, test, lint …), not another main one."""
    return group != "main" and (is_dev_group(group) or group == "dev")


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dev_package_imported(project, inline: list[tuple[str, str]] = ()) -> tuple[str, str] | None:
    """(file, module) when the app's own code imports a package only a development group installs (`import
    iniconfig` with iniconfig under [tool.poetry.group.dev]): `--only main` would leave it out (a real build:
    ModuleNotFoundError). Read as the app's code is read elsewhere (narrow_copy.app_sources: no tests or docs)."""
    from .narrow_copy import app_sources

    main = {_normalised(name) for name in project.group_packages.get("main", ())}
    modules = {}
    for group, names in project.group_packages.items():
        if _development(group):
            for name in names:
                if _normalised(name) not in main and _normalised(name) != "python":
                    for module in _IMPORT_NAMES.get(_normalised(name), (_normalised(name).replace("-", "_"),)):
                        modules[module] = name
    for relative, text in [*app_sources(project), *inline] if modules else ():
        if not any(module in text for module in modules):
            continue
        for module in _imported_modules(text):
            if module in modules:
                return relative, module
    return _transitive_dev_import(project, inline)


def _inline_code(document: Document, stage) -> list[tuple[str, str]]:
    """(where, code) of each `python -c CODE` the image runs (CMD, ENTRYPOINT) or a RUN after the install runs
    (`RUN poetry run python -c "import iniconfig"`): code the app's files do not hold."""
    found: list[tuple[str, str]] = []
    installs = install_runs(stage)
    later = [i for i in stage.instructions if installs and i.start > installs[0].start]
    later += [i for child in descendants(document, stage) for i in child.instructions]
    for instruction in [*later, *(i for i in document.instructions if i.keyword in ("CMD", "ENTRYPOINT"))]:
        if instruction.keyword == "RUN":
            argvs = [list(command.tokens) for command in run_commands(instruction)]
        elif instruction.keyword in ("CMD", "ENTRYPOINT"):
            argvs = [instruction.argv() or []]
        else:
            continue
        for argv in argvs:
            argv, _ = strip_poetry_run(argv)
            if argv and argv[0].rsplit("/", 1)[-1].startswith("python") and "-c" in argv[1:-1]:
                found.append((f"line {instruction.line_number}", argv[argv.index("-c") + 1]))
    return found


def _transitive_dev_import(project, inline: list[tuple[str, str]] = ()) -> tuple[str, str] | None:
    """(file, "module (a dependency of pytest)") when the app's own code imports a package poetry.lock installs
    only for a development group, through a package of it: `import packaging` with pytest in the dev group and
    packaging in no main dependency. The original image has it, `--only main` leaves it out (ModuleNotFoundError).
    The lock is parsed only when the app imports a package it names that is no direct dependency."""
    from .narrow_copy import app_sources

    dev_roots = {normalise_name(name) for group, names in project.group_packages.items() if _development(group)
                 for name in names}
    if not dev_roots or not project.lock_text:
        return None
    kept_roots = {normalise_name(name) for group, names in project.group_packages.items() if not _development(group)
                  for name in names} - {"python"}
    direct = {module for name in kept_roots | dev_roots for module in _IMPORT_NAMES_BY_NORMAL.get(name, (name,))}
    sources = app_sources(project)
    local = {part.removesuffix(".py") for relative, _text in sources for part in relative.split("/")}
    sources = [*sources, *inline]
    imports: dict[str, str] = {}  # module -> the first file importing it
    for relative, text in sources:
        for module in _imported_modules(text):
            if module not in direct and module not in local and module not in sys.stdlib_module_names:
                imports.setdefault(module, relative)
    if not imports:
        return None
    distributions = {normalise_name(module): module for module in imports}  # distribution -> module
    distributions.update({name: module for name, modules in _IMPORT_NAMES_BY_NORMAL.items()
                          for module in modules if module in imports})
    locked = project.locks(*distributions)
    if not locked:
        return None
    graph = project.lock_graph
    installed = None
    for name in sorted(locked, key=lambda name: (imports[distributions[name]], name)):
        package = graph.get(name)
        if package is None:
            continue
        if package.groups is not None:
            dev_only = bool(package.groups) and all(_development(group) for group in package.groups)
        else:
            installed = _reachable(graph, kept_roots) if installed is None else installed
            dev_only = name not in installed and name in _reachable(graph, dev_roots)
        if dev_only:
            via = next((root for root in sorted(dev_roots) if name in _reachable(graph, {root})), None)
            module = distributions[name]
            return imports[module], module + (f" (a dependency of {via})" if via and via != name else "")
    return None


def _reachable(graph: dict, roots: set[str]) -> set[str]:
    """The packages installing `roots` installs (names normalised): their dependencies, and those of the extras
    asked for. A root's optional dependencies do not count: which extras of it the project asks for is not read,
    and counting them all took a package only a dev dependency brings for one the main group installs (a
    review: `--only main` would have left it out)."""
    seen: set[str] = set()
    pending: list[tuple[str, tuple[str, ...]]] = [(root, ()) for root in roots]
    while pending:
        name, extras = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        package = graph.get(name)
        if package is None:
            continue
        pending.extend(package.requires)
        for extra in extras:
            pending.extend((dependency, ()) for dependency in package.extras.get(normalise_name(extra), ()))
    return seen


# Packages whose module has another name (the common ones): `python-dateutil` is imported as `dateutil`.
_IMPORT_NAMES = {"python-dateutil": ("dateutil",), "pyyaml": ("yaml",), "beautifulsoup4": ("bs4",),
                 "pillow": ("PIL",), "scikit-learn": ("sklearn",), "opencv-python": ("cv2",),
                 "opencv-python-headless": ("cv2",), "pyjwt": ("jwt",), "python-dotenv": ("dotenv",),
                 "typing-extensions": ("typing_extensions",), "factory-boy": ("factory",), "attrs": ("attr", "attrs"),
                 "python-multipart": ("multipart", "python_multipart"), "email-validator": ("email_validator",),
                 "django-debug-toolbar": ("debug_toolbar",)}
_IMPORT_NAMES_BY_NORMAL = {normalise_name(name): modules for name, modules in _IMPORT_NAMES.items()}
# `importlib.import_module("iniconfig")`, `__import__("iniconfig")`: an import all the same.
_IMPORT_CALL = re.compile(r"""\b(?:import_module|__import__)\(\s*(?:name\s*=\s*)?[rbuf]?["']([A-Za-z_][\w.]*)["']""")
_IMPORT_LINE = re.compile(r"(?m)^[ \t]*(?:import[ \t]+(.+)|from[ \t]+([\w.]+)[ \t]+import\b)")


@functools.lru_cache(maxsize=4096)
def _imported_modules(text: str) -> frozenset[str]:
    """Top-level modules of the `import a, b.c as d` and `from x import y` statements of `text` (read as text,
    statements after `;` too), and of `import_module("x")` calls. Cached: both runs of the passes read the same
    files (a project of 134 modules took 0.1 s)."""
    found: set[str] = set()
    if "import_module" in text or "__import__" in text:
        found = {name.split(".")[0] for name in _IMPORT_CALL.findall(text)}
    for match in _IMPORT_LINE.finditer(text.replace(";", "\n") if ";" in text else text):
        if match.group(2):
            if not match.group(2).startswith("."):
                found.add(match.group(2).split(".")[0])
            continue
        for part in match.group(1).split("#", 1)[0].strip("()\\ \t").split(","):
            words = part.strip().strip("()").split()
            if words and re.fullmatch(r"[\w.]+", words[0]):
                found.add(words[0].split(".")[0])
    return frozenset(found)


def _is_dev_program(project, program: str) -> bool:
    """`pytest`, `/usr/local/bin/ruff`, or a program named like a package of a development group (`ipython`)."""
    base = program.rsplit("/", 1)[-1]
    return base in DEV_TOOLS or _normalised(base) in _dev_packages(project)


@per_object
def _dev_packages(project) -> frozenset[str]:
    return frozenset(_normalised(name) for group, names in project.group_packages.items()
                     if _development(group) for name in names)


def _dev_tool_in_use(document: Document, stage, project) -> str | None:
    """A development tool the image runs: in its command, or through `poetry run` in the install's RUN or one
    after it."""
    programs: list[str] = []

    def program(argv: list[str]) -> None:
        """`pytest -q`, and `python -m pytest -q` too."""
        if argv[0].rsplit("/", 1)[-1].startswith("python") and argv[1:2] == ["-m"] and len(argv) > 2:
            programs.append(argv[2])
        else:
            programs.append(argv[0])

    entry = analyse(document, project)
    if entry.argv:
        program(entry.argv)
    first_install = install_runs(stage)[0]
    # The install's own RUN too (`RUN poetry install && poetry run pytest`), and every stage built FROM this one:
    # `FROM builder AS test` + `RUN poetry run pytest` is what `docker build --target test` runs in CI.
    later = [i for i in stage.instructions if i.start >= first_install.start]
    later += [i for child in descendants(document, stage) for i in child.instructions]
    for instruction in later:
        if instruction.keyword == "RUN":
            for command in run_commands(instruction):
                argv, used = strip_poetry_run(list(command.tokens))
                if argv and (used or instruction not in stage.instructions):
                    program(argv)
        elif instruction.keyword in ("CMD", "ENTRYPOINT") and instruction not in stage.instructions:
            argv, _ = strip_poetry_run(instruction.argv() or [])
            if argv:
                program(argv)
    return next((program for program in programs if _is_dev_program(project, program)), None)
