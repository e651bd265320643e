"""Input paths (a flag's file or directory that must exist) and output paths checked
before any work; output paths (`demo --plot`, `bench --out`, the agent's
sockets): a run never ends in a traceback because its last step cannot write. Each
check names the flag and the path in one line (exit 2) and leaves nothing behind. A
file a run would replace (an earlier run's results, a plot) is refused in one wording,
`pass --force to replace it, or another FLAG`, unless the command's --force (sockets,
which their writer always replaces, are not checked)."""

from __future__ import annotations

import errno
import os
import shlex
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from kmeshctl import params
from kmeshctl.errors import KmeshctlError, UsageError


# Linux limits (NAME_MAX, PATH_MAX in bytes): longer names fail every call with ENAMETOOLONG.
NAME_MAX, PATH_MAX = 255, 4096


def check_name_length(flag: str, path: Path) -> None:
    """UsageError (exit 2) when a component of ``path`` or the whole path is longer than
    Linux allows; every other check here stats the path, which would raise OSError."""
    too_long = [part for part in Path(path).parts if len(os.fsencode(part)) > NAME_MAX]
    if too_long:
        raise UsageError(f"{flag} {params.shown(path)}: file name too long ({len(os.fsencode(too_long[0]))} bytes, at most "
                         f"{NAME_MAX} per name); give a shorter path")
    if len(os.fsencode(str(path))) >= PATH_MAX:
        raise UsageError(f"{flag} {params.shown(path)}: path too long (at most {PATH_MAX - 1} bytes); give a shorter path")


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def _probe_dir(flag: str, path: Path, shown: Path) -> None:
    """Create and remove a temporary directory in ``path``: the real test of writing
    there (root passes access(2) on a read-only mount or /proc)."""
    where = "" if Path(shown) == path else f"{path} "
    fs_type = _filesystem_type(path)
    if fs_type in KERNEL_FILESYSTEMS:  # probed, a cgroup2 mkdir would succeed: a cgroup, not a directory
        raise UsageError(f"{flag} {params.shown(shown)}: {where}is not writable (a kernel filesystem, {fs_type}); give a path "
                         "you can write to")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".kmeshctl-probe-", dir=path))
    except OSError as err:
        raise UsageError(f"{flag} {params.shown(shown)}: {where}is not writable ({_why_not_writable(path, err)}); give a path "
                         "you can write to") from None


# Filesystems the kernel makes up (files are views of its state, nothing can be created).
KERNEL_FILESYSTEMS = {"proc", "sysfs", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "configfs",
                      "pstore", "efivarfs", "fusectl", "binfmt_misc", "selinuxfs", "nsfs", "autofs"}


def _why_not_writable(path: Path, err: OSError) -> str:
    """The reason in the words of every path flag: `a kernel filesystem, proc`, `a
    read-only filesystem`, `permission denied`; never the raw errno text of the probe."""
    fs_type = _filesystem_type(path)
    if fs_type in KERNEL_FILESYSTEMS:
        return f"a kernel filesystem, {fs_type}"
    if err.errno == errno.EROFS:
        return "a read-only filesystem"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if err.errno == errno.ENOSPC:
        return "its filesystem is full"
    return f"{fs_type} filesystem" if fs_type else "new files cannot be made there"


def _filesystem_type(path: Path) -> str:
    """The type of the filesystem ``path`` is on (the longest mount point above it in
    /proc/self/mounts); "" when that cannot be read."""
    try:
        resolved = str(Path(path).resolve())
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return ""
    best, fs_type = "", ""
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount = fields[1].replace("\\040", " ")
        inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, fs_type = mount, fields[2]
    return fs_type


def check_output_file(flag: str, path: Path, create_parents: bool = False, probe_file: bool = True,
                      force: Optional[bool] = None) -> None:
    """``path`` can be written as a file: not a directory; its directory exists (or, with
    ``create_parents``, can be made) and takes new files. ``probe_file``: also open an
    existing file for appending (not for sockets, which the writer replaces). ``force``
    False: an existing file is refused (refuse_replacing); True or None (a socket): not."""
    check_name_length(flag, path)
    if path.is_dir():
        raise UsageError(f"{flag} {params.shown(path)}: is a directory; give a file name")
    typed = _typed_with_slash(flag, path)
    if typed:
        raise UsageError(f"{flag} {params.shown(typed)}: ends in /, so names a directory; pass a file name such "
                         f"as {params.shown(path)}{line_with_path(typed, path, force is False and os.path.lexists(path))}")
    parent = path.parent
    if not parent.exists() and not create_parents:
        raise UsageError(f"{flag} {params.shown(path)}: directory {params.shown(parent)} does not exist; give a file in "
                         f"an existing directory{_made_first_line(parent)}")
    base = _nearest_existing(parent)
    if not base.is_dir():
        raise UsageError(f"{flag} {params.shown(path)}: {params.shown(base)} is not a directory")
    _probe_dir(flag, base, path)
    if probe_file and path.is_file():
        try:
            with open(path, "ab"):
                pass
        except OSError as err:
            raise UsageError(f"{flag} {params.shown(path)}: is not writable ({_why_not_writable(path, err)}); give a path you "
                             "can write to") from None
    if force is False:
        refuse_replacing(flag, path, [path])


def _made_first_line(parent: Path) -> str:
    """`, or make it first: `mkdir -p DIR && LINE``: the line typed run once the missing
    directory is made; "" when it could not be (a file is in the way) or no line was typed."""
    from kmeshctl.cli import cmdline

    if not cmdline.ARGS or not _nearest_existing(parent).is_dir():
        return ""
    line = shlex.join(["kmeshctl", *cmdline.ARGS])
    return f", or make it first: `mkdir -p {shlex.quote(str(parent))} && {line}`"


def line_with_path(typed: str, path: Path, exists: bool) -> str:
    """`: `LINE``, the line as typed with ``path`` for ``typed`` (a value refused: ending in /);
    with --force, and saying so, when ``exists`` (the file is there: pasted without
    --force it would be refused)."""
    from kmeshctl.cli import cmdline

    words = cmdline.with_value_replaced(cmdline.ARGS, typed, str(path))
    if exists:
        words.insert(cmdline.separator_at(words), "--force")
    line = f"`{shlex.join(['kmeshctl', *words])}`"
    return f" (it exists: --force replaces it): {line}" if exists else f": {line}"


def _typed_with_slash(flag: str, path: Path) -> str:
    """``path`` as typed after ``flag`` when that ends in / (a Path drops the slash, so
    `--plot out.png/` would write out.png); "" else."""
    from kmeshctl.cli import cmdline

    words = cmdline.ARGS
    for index, word in enumerate(words):
        if word == "--":
            break
        value = words[index + 1] if word == flag and index + 1 < len(words) else \
            word.partition("=")[2] if word.startswith(f"{flag}=") else ""
        if value.endswith("/") and value.rstrip("/") and Path(value) == path:
            return value
    return ""


def check_output_dir(flag: str, path: Path, writes: Sequence[str] = (), force: bool = False) -> None:
    """``path`` is a directory that can be written, or can be created (nothing is made);
    unless ``force``, none of the files the run ``writes`` there exists (refuse_replacing)."""
    check_name_length(flag, path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {params.shown(path)}: {input_path_problem(path, DIRECTORY)}; give a directory")
    base = _nearest_existing(path)
    if not base.is_dir():
        raise UsageError(f"{flag} {params.shown(path)}: {params.shown(base)} is not a directory")
    _probe_dir(flag, base, path)
    if not force:
        refuse_replacing(flag, path, [path / name for name in writes])


def refuse_replacing(flag: str, given: Path, paths: Sequence[Path]) -> None:
    """UsageError (exit 2) when any of ``paths`` (what a run writes, ``given`` by ``flag``)
    exists: a run never replaces earlier output silently. The one wording of every output
    flag: `--out DIR: holds dataplane.md, dataplane.json from an earlier run; pass --force
    to replace them, or another --out`, `--plot x.png: exists; pass --force to replace it,
    or another --plot`."""
    found = [p for p in paths if os.path.lexists(p)]  # a dangling link too: writing follows it
    if not found:
        return
    line = _with_force()
    if found == [given]:
        raise UsageError(f"{flag} {params.shown(given)}: exists; pass --force to replace it{line}, or another {flag}")
    names = ", ".join(p.name for p in found)
    them = "them" if len(found) > 1 else "it"
    raise UsageError(f"{flag} {params.shown(given)}: holds {names} from an earlier run; pass --force to replace "
                     f"{them}{line}, or another {flag}")


def _with_force() -> str:
    """`: `kmeshctl demo traffic-shift ... --force``: the command being run with every flag
    typed and --force, when it takes --force; '' outside a run of one."""
    from typer._click.globals import get_current_context

    from kmeshctl.cli.render import same_work_command

    ctx = get_current_context(silent=True)
    if ctx is None or not any("--force" in getattr(p, "opts", ()) for p in ctx.command.params):
        return ""
    path: list[str] = []
    walk = ctx
    while walk.parent is not None:
        path.insert(0, walk.info_name or "")
        walk = walk.parent
    return f": `{same_work_command(path, ['--force'])}`"


def check_optional_file(flag: str, path: Optional[Path], **kwargs: bool) -> None:
    if path is not None:
        check_output_file(flag, path, **kwargs)


# ------------------------------------------------------------------ writing at the end of a run


def shell_line(words: Sequence[str]) -> str:
    """``words`` (a command line) quoted for a shell, to paste or to write into a run's
    results: a word that is not UTF-8 (a path of bytes: Python holds them as lone
    surrogates, which no encoder writes) as bash's $'...' with its bytes, `$'/tmp/\\xff'`."""
    return " ".join(_shell_word(word) for word in words)


def _shell_word(word: str) -> str:
    if not any("\udc80" <= c <= "\udcff" for c in word):
        return shlex.quote(word)
    return "$'" + "".join(chr(b) if 0x20 <= b < 0x7f and chr(b) not in "'\\" else f"\\x{b:02x}"
                          for b in os.fsencode(word)) + "'"


class NotWritten(KmeshctlError):
    """Output a run could not write at its end (exit 1; nothing of it left, an earlier file
    it would replace untouched): `FLAG GIVEN: cannot write it (REASON)`, or `cannot write
    NAME` for one of the files of a directory flag. ``again(line)``: with the fix that
    makes ``line`` (the run again) work when pasted."""

    def __init__(self, flag: str, given: Path, failed: Path, err: BaseException) -> None:
        what = "it" if failed == given else params.shown(failed.name)
        self.given, self.failed, self.err = given, failed, err
        super().__init__(f"{flag} {params.shown(given)}: cannot write {what} ({_why_not_written(failed, err)})")

    def again(self, line: str, run: str = "the run") -> KmeshctlError:
        return KmeshctlError(self.problem, fix=_not_written_fix(self.failed, self.err, line, run))


def write_files(flag: str, given: Path, contents: dict[Path, bytes], make_dir: Optional[bool] = None) -> None:
    """Write ``contents`` (path -> bytes, the files a run's ``flag`` names: the file
    ``given``, or files in the directory ``given``) all or none: each to a temporary file
    beside it, renamed over it once all are written; a failure (a full disk, the
    directory removed or replaced meanwhile, a name the filesystem refuses) removes the
    temporary files and raises NotWritten. ``make_dir``: make the directory ``given``
    first (True: its missing parents too), removed again on a failure."""
    pending: list[tuple[Path, Path]] = []
    made = [] if make_dir is None else [d for d in (given, *given.parents) if not d.exists()]
    failed = given
    try:
        if make_dir is not None:
            given.mkdir(parents=make_dir, exist_ok=True)
        for path, data in contents.items():
            failed = path
            temporary = _temporary_beside(_written_path(path))
            pending.append((path, temporary))
            _fill(temporary, data)
        for path, temporary in pending:
            failed = path
            os.replace(temporary, _written_path(path))
    except (OSError, UnicodeError) as err:
        for _path, temporary in pending:
            _remove_quietly(temporary)
        for directory in made:  # deepest first; one holding anything (not ours) stays
            try:
                directory.rmdir()
            except OSError:
                break
        raise NotWritten(flag, given, failed, err) from None


def _written_path(path: Path) -> Path:
    """Where writing ``path`` lands: the target of a link (--force over a link writes
    through it, as open() would), else ``path``."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


def _temporary_beside(path: Path) -> Path:
    """A new empty file in ``path``'s directory, hidden (a dot name), with the mode a new
    file gets (mkstemp makes 0600)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name[:80]}.", suffix=".tmp", dir=path.parent)
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
    except OSError:
        _remove_quietly(Path(name))
        raise
    finally:
        os.close(fd)
    return Path(name)


def _fill(path: Path, data: bytes) -> None:
    """``data`` into ``path``, on disk: a full disk fails here, not after the rename."""
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass  # gone with its directory


def _why_not_written(path: Path, err: BaseException) -> str:
    """The reason in the words of every output flag: `no space left on its filesystem`,
    `directory D no longer exists`, `D is no longer a directory`, never a traceback's."""
    code = getattr(err, "errno", None)
    if isinstance(err, UnicodeError):
        return "its name cannot be written on this filesystem"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on its filesystem" if code == errno.ENOSPC else "disk quota exceeded"
    if code == errno.ENOENT:
        return f"directory {params.shown(_missing_dir(path))} no longer exists"
    if code == errno.ENOTDIR:
        return f"{params.shown(_not_a_dir(path))} is no longer a directory"
    if code == errno.EISDIR:
        return "it is a directory now"
    if code is not None and isinstance(err, OSError):
        return _why_not_writable(path.parent, err) if code in (errno.EROFS, errno.EACCES, errno.EPERM) \
            else (err.strerror or str(err)).lower()
    return str(err)


def _not_a_dir(path: Path) -> Path:
    """The nearest directory of ``path`` that is something else now (a file made in its place)."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return path.parent


def _missing_dir(path: Path) -> Path:
    """The topmost directory of ``path`` that does not exist any more."""
    for parent in reversed(path.parents):
        if not parent.exists():
            return parent
    return path.parent


def _not_written_fix(path: Path, err: BaseException, line: str, run: str) -> str:
    """How to get the output: make room, make the directory, move the thing in the way,
    then ``line`` (the run again, every flag kept: nothing of it was left, so it is not
    refused as an earlier run's)."""
    code = getattr(err, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"free some space there, then run {run} again: `{line}`"
    if code == errno.ENOENT:
        return f"run {run} again once it exists: `mkdir -p {shlex.quote(str(_missing_dir(path)))} && {line}`"
    if code == errno.ENOTDIR:
        return f"move it away, then run {run} again: `{line}`"
    if code == errno.EISDIR:
        return f"move that directory away, then run {run} again: `{line}`"
    return f"fix that, then run {run} again: `{line}`"


# ------------------------------------------------------------------ input paths

FILE, DIRECTORY, FILE_OR_DIRECTORY = "a file", "a directory", "a file or directory"
# A file or a pipe (`--crd-file <(curl ...)`: /dev/fd/63), for a flag whose file is read
# once; refused as FILE is (`is not a file`) otherwise.
FILE_OR_PIPE = "a file or pipe"


def input_path_problem(path: Path, kind: str = FILE) -> Optional[str]:
    """Why ``path`` cannot be read as ``kind`` (FILE, DIRECTORY, FILE_OR_DIRECTORY,
    FILE_OR_PIPE), in the words every path flag uses: `does not exist`, `is not a
    directory`, `is not a file` (a device: `/dev/null`; a fifo but for FILE_OR_PIPE); None
    when it can."""
    if not path.exists():
        return "does not exist"
    if kind == DIRECTORY and not path.is_dir():
        return "is not a directory"
    if kind == FILE and not path.is_file():
        return "is not a file"
    if kind == FILE_OR_PIPE and not (path.is_file() or path.is_fifo()):
        return "is not a file"
    if kind == FILE_OR_DIRECTORY and not (path.is_file() or path.is_dir()):
        return "is not a file or directory"
    return None


def check_input_path(flag: str, path: Path, kind: str = FILE, fix: str = "") -> None:
    """UsageError `FLAG PATH: PROBLEM; FIX` (exit 2) unless ``path`` is an existing
    ``kind``; ``fix`` defaults to `give an existing <kind>`. The one check of every
    path a command reads (`sandbox up -f` should call it with FILE_OR_DIRECTORY)."""
    check_name_length(flag, Path(path))
    problem = input_path_problem(Path(path), kind)
    if problem is not None:
        raise UsageError(f"{flag} {params.shown(path)}: {problem}; {fix or 'give an existing ' + kind.removeprefix('a ')}")


# ------------------------------------------------------------------ a path typed unquoted

# Output path flags (by parameter name) and the suffix their file must have ("" for any):
# a path there need not exist yet.
OUTPUT_PATHS = {"plot": ".png", "out": "", "admin_socket": "", "cni_socket": ""}


def spaced_path_meant(name: str, text: str) -> bool:
    """Is ``text`` (a path flag's value joined with the stray words after it by a space:
    `/tmp/my plot.png`, typed unquoted) the path meant for the flag of parameter ``name``?
    It exists; or, for an output path (OUTPUT_PATHS), its directory exists and it ends with
    the suffix the flag takes."""
    path = Path(text).expanduser()
    try:
        if path.exists():
            return True
        suffix = OUTPUT_PATHS.get(name)
        if suffix is None or not path.parent.is_dir():
            return False
        return not suffix or path.suffix.lower() == suffix
    except OSError:  # a name too long to stat: no path of this machine
        return False


def meant_path_text(flag: str, meant: Path, force: bool) -> str:
    """`, e.g. FLAG M: `LINE``: the line typed with the path ``meant`` for ``flag``'s value,
    or a free name like it when that file exists (free_path: never --force on a file the user
    did not name); the example alone when ``flag`` is not on this command line. ``force``: unused
    (kept for the callers)."""
    import os

    from kmeshctl.cli import cmdline
    from kmeshctl.cli.badinput import typed_value

    typed = typed_value(cmdline.ARGS, flag)
    # a file the user did not name is never replaced (their --force was for the name typed): a free name
    taken = os.path.lexists(meant)
    free = free_path(meant) if taken else meant
    example = f", e.g. {flag} {params.shown(free)}" + (f" ({params.shown(meant)} exists)" if taken else "")
    if typed is None:
        return example
    return example + line_with_path(typed, free, False)


def free_path(path: Path) -> Path:
    """``path`` with `-1`, `-2`... before its suffix: the first that names no file (a.png -> a-1.png)."""
    import itertools
    import os

    return next(p for n in itertools.count(1) for p in [path.with_name(f"{path.stem}-{n}{path.suffix}")]
                if not os.path.lexists(p))
