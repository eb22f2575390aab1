"""A submission's files, read without trusting them (trusted grader process).

Threat: a submission folder is written by the student, or by a tool working for them (git,
a shared filesystem, an exchange inbox, a learning platform's zip). The grader runs as
root, so anything it follows there reads what the student never could:

- a symbolic link (to the hidden checks, the oracle, the gradebook, another student's
  work, ``/etc/shadow``, ``/proc/self/environ``) hands that file to the kernel, and
  nbgrader's own copy of "other files" then leaves plain copies in ``autograded/`` and
  ``feedback/``;
- a link to a device (``/dev/zero``) or a FIFO makes a copy run without end;
- sheer size (a million files, a 50 GB file) fills the grader's disk.

So a submission holds regular files and folders only. Anything else — a link of any
kind, wherever it points, a device, a FIFO, a socket — makes it :class:`UnsafeSubmission`,
naming the entry, *before* anything reads or copies it: the submission is refused whole
(``ml4p autograde`` never hands it to nbgrader, whose copy follows links), not partly
copied. The walk goes through folder descriptors opened with ``O_NOFOLLOW``, and every
file is checked again after it is opened (``fstat``), so swapping an entry for a link
between the check and the copy does not help. Bytes, entries, depth and time are capped.

Hard links are regular files: making one to a file the student cannot read needs access
to the grader's filesystem in the first place, which is outside this model.
"""
from __future__ import annotations

import fnmatch
import os
import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20
_KINDS = {stat.S_IFLNK: "a symbolic link", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket"}
#: What the grader never copies into the sandbox: the notebooks (it runs them itself) and Jupyter's checkpoints.
NOT_COPIED = ("*.ipynb", ".ipynb_checkpoints")


@dataclass(frozen=True)
class FileLimits:
    """How much of a submission the grader reads."""

    max_bytes: int = 256 << 20  # all files together
    max_entries: int = 10_000  # files and folders
    max_depth: int = 32  # nested folders
    max_seconds: float = 60.0  # for the whole walk or copy


class UnsafeSubmission(ValueError):
    """The submission holds something other than regular files and folders, or too much."""


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "a special file")


def _refuse(rel: str, what: str) -> UnsafeSubmission:
    return UnsafeSubmission(f"the submission holds {what} at `{rel}`: only regular files and folders are "
                            "accepted; replace it by a plain file (or remove it) and resubmit")


class _Walk:
    """Regular files under a folder, found through folder descriptors (no link is ever followed)."""

    def __init__(self, root: Path, limits: FileLimits, skip: Sequence[str]):
        self.root, self.limits, self.skip = Path(root), limits, tuple(skip)
        self.deadline = time.monotonic() + limits.max_seconds
        self.entries = self.bytes = 0

    def files(self) -> Iterator[tuple[str, int, int]]:
        """(relative path, folder descriptor, size) of each regular file not skipped, folders first."""
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError as error:
            if os.path.islink(self.root):
                raise _refuse(".", "a symbolic link") from None
            raise UnsafeSubmission(f"the submission folder cannot be read: {error}") from None
        try:
            yield from self._folder(fd, "", 0)
        finally:
            os.close(fd)

    def _folder(self, fd: int, prefix: str, depth: int, keep: bool = True) -> Iterator[tuple[str, int, int]]:
        """``keep``: whether this folder's files are wanted (a skipped folder is still checked)."""
        if depth > self.limits.max_depth:
            raise UnsafeSubmission(f"the submission nests folders deeper than {self.limits.max_depth} at `{prefix}`")
        with os.scandir(fd) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        for entry in entries:
            rel = prefix + entry.name
            self._count(rel)
            info = os.stat(entry.name, dir_fd=fd, follow_symlinks=False)
            kept = keep and not any(fnmatch.fnmatch(entry.name, pattern) for pattern in self.skip)
            if stat.S_ISDIR(info.st_mode):
                sub = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                try:
                    if kept:
                        yield rel + "/", sub, -1
                    yield from self._folder(sub, rel + "/", depth + 1, kept)
                finally:
                    os.close(sub)
            elif not stat.S_ISREG(info.st_mode):
                raise _refuse(rel, _kind(info.st_mode))
            elif kept:
                self.bytes += info.st_size
                if self.bytes > self.limits.max_bytes:
                    raise UnsafeSubmission(f"the submission's files hold more than "
                                           f"{self.limits.max_bytes >> 20} MB (at `{rel}`)")
                yield rel, fd, info.st_size

    def _count(self, rel: str) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise UnsafeSubmission(f"the submission holds more than {self.limits.max_entries} files and folders")
        if time.monotonic() > self.deadline:
            raise UnsafeSubmission(f"reading the submission took longer than {self.limits.max_seconds:g} s (at `{rel}`)")


def inspect(folder: Path, *, below: Path | None = None, limits: FileLimits = FileLimits(),
            skip: Sequence[str] = ()) -> list[str]:
    """The regular files of a submission folder (relative paths); raises UnsafeSubmission.

    Every entry is checked, notebooks included; ``skip`` (name patterns) leaves entries
    out of the byte count and the result, not out of the check. ``below``: a trusted folder
    holding ``folder``; each folder on the way down from it must be a folder, not a link.
    """
    if below is not None:
        below, step = Path(below), Path(below)
        for part in Path(folder).relative_to(below).parts[:-1]:
            step = step / part
            if not stat.S_ISDIR(os.lstat(step).st_mode):
                raise _refuse(str(step.relative_to(below)), _kind(os.lstat(step).st_mode))
    return [rel for rel, _, size in _Walk(folder, limits, skip).files() if size >= 0]


def copy_submission(src: Path, dest: Path, *, limits: FileLimits = FileLimits(),
                    skip: Sequence[str] = NOT_COPIED) -> int:
    """Copy the regular files of ``src`` into the new folder ``dest``; returns the bytes copied.

    ``dest`` must not exist. What is copied is readable by anyone (the sandbox's uid
    reads it) and owned by the grader. Raises UnsafeSubmission (``dest`` is then removed).
    """
    import shutil

    dest = Path(dest)
    dest.mkdir(mode=0o755)
    walk = _Walk(src, limits, skip)
    try:
        for rel, fd, size in walk.files():
            if size < 0:
                (dest / rel).mkdir(mode=0o755)
                continue
            name = rel.rsplit("/", 1)[-1]
            source = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
            try:
                opened = os.fstat(source)
                if not stat.S_ISREG(opened.st_mode):  # swapped since it was listed
                    raise _refuse(rel, _kind(opened.st_mode))
                _copy_bytes(source, dest / rel, rel, size, walk)
            finally:
                os.close(source)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return walk.bytes


def _copy_bytes(source: int, target: Path, rel: str, size: int, walk: _Walk) -> None:
    """Copy an open file of listed ``size``: at most what the byte budget allows, within the deadline."""
    budget = size + walk.limits.max_bytes - walk.bytes  # its listed size is counted already
    with open(target, "xb") as out:
        os.fchmod(out.fileno(), 0o644)
        while chunk := os.read(source, _CHUNK):
            budget -= len(chunk)
            if budget < 0:  # it grew since it was listed
                raise UnsafeSubmission(f"the submission's files hold more than {walk.limits.max_bytes >> 20} MB "
                                       f"(at `{rel}`)")
            if time.monotonic() > walk.deadline:
                raise UnsafeSubmission(f"copying the submission took longer than {walk.limits.max_seconds:g} s "
                                       f"(at `{rel}`)")
            out.write(chunk)
