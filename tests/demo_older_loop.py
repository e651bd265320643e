"""A request loop as an older kmeshctl (before the loop's guard) or a local sandbox demo
runs it, for the cluster demo's sweep tests: exactly `sh -c REQUEST_LOOP sh URL 0 STOP
3600`, its curl a fake on PATH that answers at once and sends nothing (the URL is only an
argument), so that /proc shows the very argv such a loop has."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kmeshctl import demo

FAKE_CURL = "#!/bin/sh\nsleep 0.2\nprintf 'HTTP/1.1 200 OK\\r\\nServer: fake\\r\\n\\r\\n'\n"


def older_loop(tmp_path: Path, url: str) -> subprocess.Popen:
    """Started in a session of its own (the caller kills its process group); runs until killed."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "curl").exists():  # a loop started before runs it: rewriting it is ETXTBSY
        (bin_dir / "curl").write_text(FAKE_CURL)
        (bin_dir / "curl").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    return subprocess.Popen(demo.loop_argv(url, 0, str(tmp_path / "no-stop-file"), 3600), env=env,
                            stdout=subprocess.DEVNULL, start_new_session=True)
