"""Reading Dockerfiles as exact text and writing them back atomically."""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
from pathlib import Path


class InputError(Exception):
    """A file that cannot be read as a Dockerfile; the message is one line naming the file."""


MAX_SIZE = 5 * 1024 * 1024  # no real Dockerfile is this large; refuse rather than load a stray binary


def read_dockerfile(path: Path) -> str:
    """The file's text, newline characters untouched. Raises InputError with a one-line reason."""
    try:
        info = path.stat()  # follows a symlink; a loop raises ELOOP
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{path}: is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path}: not a regular file (a FIFO, socket or device is never read)")
        if info.st_size > MAX_SIZE:
            raise InputError(f"{path}: {info.st_size} bytes is too large for a Dockerfile")
        with path.open("rb") as stream:
            # Sized by stat: reading MAX_SIZE + 1 would allocate 5 MB for every file (a third of the read's
            # time in a bulk run). A file that grew since is read on, up to the limit.
            data = stream.read(min(info.st_size, MAX_SIZE) + 1)
            if len(data) > info.st_size:
                data += stream.read(MAX_SIZE + 1 - len(data))
        if len(data) > MAX_SIZE:
            raise InputError(f"{path}: more than {MAX_SIZE} bytes is too large for a Dockerfile")
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(f"{path}: a symlink to {os.readlink(path)}, which does not exist") from None
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror or error})") from None
    return decode(data, str(path))


def decode(data: bytes, name: str) -> str:
    if b"\x00" in data:
        raise InputError(f"{name}: binary file, not a Dockerfile")
    try:
        return data.decode("utf-8")  # a BOM stays in the text; Document keeps it
    except UnicodeDecodeError as error:
        raise InputError(f"{name}: not UTF-8 text (byte {error.start})") from None


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step, keeping its permission bits and, where allowed, its owner and
    group (a root run on a mounted checkout must not leave root-owned files behind); the text is on disk before
    the rename, and no partial file is ever visible."""
    info = path.stat() if path.exists() else None
    directory = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        if info is None:
            # A new file (`-o NEW`) gets the mode a shell redirection would give it; mkstemp's is 0600.
            os.chmod(temporary, 0o666 & ~_umask())
        else:
            os.chmod(temporary, stat.S_IMODE(info.st_mode))
            if hasattr(os, "chown") and (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.chown(temporary, info.st_uid, info.st_gid)
                except OSError:  # not root, or an owner a user namespace cannot map (EINVAL)
                    pass  # the file becomes ours, as any editor's save would make it
                os.chmod(temporary, stat.S_IMODE(info.st_mode))  # chown may clear set-id bits
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0o022)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask


def write_output(path: Path, text: str) -> None:
    """`-o FILE`: write where a shell redirection would. Through a symlink to the file it names (the link stays),
    straight into a FIFO or a device (`-o /dev/stdout`), atomically to a regular file or a new one."""
    try:
        info = os.stat(path)  # through symlinks: /dev/stdout -> /proc/self/fd/1 -> a pipe
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(21, "is a directory")
    if info is not None and not stat.S_ISREG(info.st_mode):
        with open(path, "w", encoding="utf-8", newline="") as stream:  # a FIFO, a pipe, a terminal, /dev/null
            stream.write(text)
        return
    write_atomically(Path(os.path.realpath(path)) if path.is_symlink() else path, text)


def unified_diff(before: str, after: str, name: str) -> str:
    diff = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}"
    )
    lines = []
    for line in diff:
        lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(lines)
