"""A flag's value the shell split at a space (`--xds-address istiod.istio-system.svc 15012`,
`--image REPO 0.1.0`, `--timeout 5 m`): the word after the value is read as its other half
when the two make one value the flag takes, and never as a name of its own (a namespace, a
waypoint) that a line offered would then act on."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from typer import _click

from kmeshctl.cli.badinput import takes_value
from kmeshctl.cli.cmdline import separator_at
from kmeshctl.errors import spoken_list

# Unit words a duration's number may be followed by, as the unit Go's durations spell.
UNIT_WORDS = {"ns": "ns", "us": "us", "ms": "ms", "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
              "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m", "h": "h", "hr": "h", "hrs": "h",
              "hour": "h", "hours": "h"}
_TAG_WORD = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)  # a word an image tag may be
_VERSION_TAG = re.compile(r"v?\d[\w.-]*|latest", re.ASCII)  # a tag typed after a space: a version, or latest


@dataclass(frozen=True)
class Split:
    """A stray word typed right after a flag's value: ``at`` the value's word in the line
    (`--flag=value`'s own), ``word_at`` the stray word's; ``part`` what the word would be
    of the value (port, tag, unit); ``joined`` the value both make when the flag takes it,
    else None and ``refused`` what the flag's check says of the two joined."""
    at: int
    word_at: int
    attached: bool  # typed `--flag=value`
    flag: str
    value: str
    word: str
    part: str
    joined: Optional[str]
    refused: str

    def said(self, joined_shown: bool = False) -> str:
        """`15012 (typed after a space) read as the port of --xds-address` (``joined_shown``:
        `, as --xds-address istiod.istio-system.svc:15012`), or why it is not."""
        if self.joined is not None:
            shown = f", as {self.flag} {shlex.quote(self.joined)}" if joined_shown else ""
            return f"{shlex.quote(self.word)} (typed after a space) read as the {self.part} of {self.flag}{shown}"
        return f"{shlex.quote(self.word)}, typed right after {self.flag} {shlex.quote(self.value)}, is no " \
               f"{self.part} of it ({self.refused})"


def _duration_part(value: str, word: str) -> Optional[tuple[str, str]]:
    from kmeshctl.asciinum import is_duration_text, is_number_text

    if is_duration_text(value) and not is_number_text(value) and is_duration_text(word) \
            and not is_number_text(word):
        return "rest", value + word  # `--timeout 1m 30s`: Go's 1m30s
    if not is_number_text(value) or not word.isalpha() or (word.lower() not in UNIT_WORDS and len(word) > 3):
        return None  # `--timeout 5 east`: a name, not a unit mistyped
    return "unit", value + UNIT_WORDS.get(word.lower(), word)


def _port_part(value: str, word: str) -> Optional[tuple[str, str]]:
    if not word.isdigit():
        return None
    return "port", f"{value}:{word}"  # a value with a port already: no port of it, said so by the check


def _tag_part(value: str, word: str) -> Optional[tuple[str, str]]:
    if not _TAG_WORD.fullmatch(word):
        return None
    return "tag", f"{value}:{word}"  # an image with a tag already: no tag of it, said so by the check


def _check_duration(param: _click.Parameter, flag: str, value: str) -> None:
    from kmeshctl.asciinum import is_duration_text, parse_duration
    from kmeshctl.params import bad_value

    if not is_duration_text(value):
        raise bad_value(flag, value, "not a duration", "e.g. 300s, 5m, 1h")
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if (low is not None and parse_duration(value) < low) or (high is not None and parse_duration(value) > high):
        raise bad_value(flag, value, "out of range", "a duration in the flag's range")


def _check_port(param: _click.Parameter, flag: str, value: str) -> None:
    from kmeshctl.params import bad_value, check_xds_address

    if value.startswith("unix:"):
        raise bad_value(flag, value, "a unix socket has no port", "HOST:PORT or unix:/path")
    check_xds_address(value, flag)


def _check_tag(param: _click.Parameter, flag: str, value: str) -> None:
    from kmeshctl.params import bad_value, check_image

    check_image(value, flag)
    if not _VERSION_TAG.fullmatch(value.rpartition(":")[2]):  # `--image bad image`: no tag one would type so
        raise bad_value(flag, value, f"{value.rpartition(':')[2]} is no version tag", "REGISTRY/REPOSITORY[:TAG]")


_Part = Callable[[str, str], Optional[tuple[str, str]]]
_Check = Callable[[_click.Parameter, str, str], None]


def _kind(param: _click.Parameter) -> Optional[tuple[_Part, _Check]]:
    """How a value of ``param`` may have been split (its other half's reading, its check)."""
    metavar = (getattr(param, "metavar", None) or "").strip()
    if metavar == "DURATION":
        return _duration_part, _check_duration
    if metavar == "HOST:PORT":
        return _port_part, _check_port
    if param.name == "image":
        return _tag_part, _check_tag
    return None


def _refusal(check: _Check, param: _click.Parameter, flag: str, joined: str) -> str:
    """What ``check`` says of ``joined`` ("" when it takes it), its `FLAG VALUE: ` left off."""
    from kmeshctl.errors import KmeshctlError

    try:
        check(param, flag, joined)
    except KmeshctlError as err:
        message = " ".join(str(err).split())
        problem = message.partition(": ")[2] or message
        return f"{flag} {shlex.quote(joined)}: {problem.partition('; ')[0]}".replace("`", "")  # no line in it
    return ""


def splits(params: Sequence[_click.Parameter], words: Sequence[str], strays: Optional[set[int]] = None) -> list[Split]:
    """Each word of the line ``words`` (less `kmeshctl`) typed right after the value of one
    of ``params`` whose values the shell may split (a duration, an address, an image) and
    that reads as its other half (a unit, a port, a tag); ``strays``: the places of the
    words the command did not take (None: any word that is no flag)."""
    found: list[Split] = []
    end = separator_at(list(words))
    i = 0
    while i < end:
        flag, equals, attached = words[i].partition("=")
        param = _option(params, flag) if flag.startswith("-") else None
        if param is None or not takes_value(param):
            i += 1
            continue
        at = i if equals else i + 1
        value = attached if equals else (words[at] if at < end else "")
        after = at + 1
        kind = _kind(param)
        i = after
        if kind is None or after >= end or words[after].startswith("-") or (strays is not None and after not in strays):
            continue
        part = kind[0](value, words[after])
        if part is None:
            continue
        refused = _refusal(kind[1], param, flag, part[1])
        found.append(Split(at, after, bool(equals), flag, value, words[after], part[0],
                           None if refused else part[1], refused))
    return found


def _option(params: Sequence[_click.Parameter], flag: str) -> Optional[_click.Parameter]:
    return next((p for p in params if p.param_type_name == "option" and flag in (*p.opts, *p.secondary_opts)), None)


_NAME_METAVARS = ("NAME", "ID", "NAMESPACE")


def name_halves(params: Sequence[_click.Parameter], words: Sequence[str]) -> list[tuple[str, str, int]]:
    """(flag, value, the number's place) for each number typed right after the value of a
    flag of names (`--network net 1`: the rest of net-1, the shell split at its space;
    no on/off value and no name of its own)."""
    found = []
    end = separator_at(list(words))
    for i in range(end - 1):
        flag, equals, attached = words[i].partition("=")
        param = _option(params, flag) if flag.startswith("-") else None
        if param is None or not takes_value(param) or (getattr(param, "metavar", None) or "") not in _NAME_METAVARS:
            continue
        after = i + 1 if equals else i + 2
        if after < end and words[after].isdigit():
            found.append((flag, attached if equals else words[i + 1], after))
    return found


def line_joined(words: Sequence[str], found: Sequence[Split]) -> list[str]:
    """``words`` with each split value of ``found`` (joined) as one word, its stray half gone."""
    line = list(words)
    for split in found:
        if split.joined is None:
            continue
        line[split.at] = f"{split.flag}={split.joined}" if split.attached else split.joined
    gone = {split.word_at for split in found if split.joined is not None}
    return [w for i, w in enumerate(line) if i not in gone]


def path_params(root: _click.Command, path: Sequence[str]) -> list[_click.Parameter]:
    """The params of the command ``path`` (its words, less `kmeshctl`) names and of the groups above it."""
    params: list[_click.Parameter] = list(root.params)
    command: Optional[_click.Command] = root
    for word in path:
        command = getattr(command, "commands", {}).get(word)
        if command is None:
            break
        params += command.params
    return params


def chain_params(ctx: Optional[_click.Context]) -> list[_click.Parameter]:
    """The params of ``ctx``'s command and of the groups above it (a global flag typed after it)."""
    params: list[_click.Parameter] = []
    while ctx is not None:
        params += ctx.command.params
        ctx = ctx.parent
    return params


def check_split_arguments(arguments: Sequence[str], what: str) -> None:
    """A word the command took as an argument (enable-ns's NAMESPACE, ``what``) that is the
    other half of the value typed before it (`--timeout 5 m`): a UsageError naming the value
    joined, with the line so when it works (the word alone would act on a namespace m)."""
    from kmeshctl.cli import cmdline
    from kmeshctl.cli.badinput import line_works
    from kmeshctl.errors import UsageError

    if not arguments or not cmdline.INVOKED:
        return
    words = list(cmdline.ARGS)
    found = [split for split in splits(chain_params(cmdline.INVOKED[-1]), words)
             if split.joined is not None and split.word in arguments]
    if not found:
        return
    line = ["kmeshctl", *line_joined(words, found)]
    offered = f": `{shlex.join(line)}`" if line_works(line, cmdline.INVOKED[0].command) else ""
    named = spoken_list([shlex.quote(split.word) for split in found])
    raise UsageError(f"{'; '.join(split.said(not offered) for split in found)}, not {what}{offered} ({what} named "
                     f"{named}: give it before the flags)")
