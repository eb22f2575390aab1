"""JupyterLab for the browser tests: a server of its own on loopback, and a record of what the browser showed.

``jupyter_lab(root, home)`` starts ``jupyter lab`` in ``root`` (its root folder and working
folder, as a person starts it there) on 127.0.0.1, a free port and a token, with its Jupyter
configuration, data (nbgrader's cache of a student's submissions is there), runtime and
JupyterLab settings in ``home``: nothing of the machine's own user folders enters or changes.
JupyterLab's settings there turn off the news and update pop-up and the notebook's windowed
rendering (every cell stays in the page, where a locator finds it). On the way out the
server's kernels are shut down through its REST API and its process group is stopped, even
when the test failed.

``Record`` saves screenshots (into the test's folder, and into ``$ML4P_SCREENSHOTS`` when set)
and names the step that failed, with a screenshot of the page at that moment.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCREENSHOTS_ENV = "ML4P_SCREENSHOTS"

# JupyterLab user settings: no "official Jupyter news?" pop-up over the page, every notebook cell rendered.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


@dataclass
class Lab:
    """A running JupyterLab server."""

    root: Path
    base: str  # http://127.0.0.1:PORT
    token: str
    log: Path
    process: subprocess.Popen

    def url(self, path: str = "lab") -> str:
        return f"{self.base}/{path.lstrip('/')}?token={self.token}"

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process_group(process: subprocess.Popen, grace: float = 15) -> None:
    """SIGTERM to the process group (the server stops its kernels), SIGKILL to what is left after ``grace`` s."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # anything of the group still there, the server included
    except ProcessLookupError:
        pass
    process.wait()


@contextmanager
def jupyter_lab(root: Path, home: Path, *, env: dict[str, str] | None = None, start_timeout: float = 120) -> Iterator[Lab]:
    """JupyterLab serving ``root`` on loopback; stopped, kernels and process group, on the way out."""
    root, home = Path(root).resolve(), Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(24)
    environment = {**os.environ, **(env or {}),
                   "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
                   "JUPYTER_DATA_DIR": str(home / "data"),  # nbgrader's cache of submissions, notebook signatures
                   "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    command = [sys.executable, "-m", "jupyter", "lab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
               f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = home / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=root, env=environment, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    lab = Lab(root, f"http://127.0.0.1:{port}", token, log, process)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jupyter lab in {root} exited with {process.returncode}:\n{lab.log_tail()}")
            try:
                lab.api("status")
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab in {root} did not answer in {start_timeout:g} s:\n{lab.log_tail()}") from None
                time.sleep(0.3)
        yield lab
    finally:
        try:
            for kernel in lab.api("kernels") if process.poll() is None else []:
                lab.api(f"kernels/{kernel['id']}", method="DELETE")
        except (urllib.error.URLError, OSError, ValueError):
            pass  # the server's own shutdown stops what is left
        stop_process_group(process)


def chromium() -> str | None:
    """The system's Chromium (Playwright's own browser download is not needed)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Record:
    """Screenshots of the steps, and which step failed."""

    def __init__(self, folder: Path):
        self.folders = [Path(folder)]
        if os.environ.get(SCREENSHOTS_ENV):
            self.folders.append(Path(os.environ[SCREENSHOTS_ENV]))
        for f in self.folders:
            f.mkdir(parents=True, exist_ok=True)
        self.saved: list[Path] = []

    def shot(self, page, name: str) -> Path:
        """A PNG of the page as it is now, ``<name>.png`` in each folder; returns the first."""
        data = page.screenshot()
        paths = [f / f"{name}.png" for f in self.folders]
        for p in paths:
            p.write_bytes(data)
        self.saved.append(paths[0])
        return paths[0]

    @contextmanager
    def step(self, what: str, page, *servers: Lab) -> Iterator[None]:
        """Run a step; on failure, say which, with a screenshot of the page and the servers' last log lines."""
        try:
            yield
        except Exception as exc:
            try:
                where = f"screenshot {self.shot(page, 'FAILED-' + re.sub(r'[^a-z0-9]+', '-', what.lower()).strip('-'))}"
            except Exception as shot_error:  # noqa: BLE001 - the step's own error is the one to report
                where = f"no screenshot ({shot_error})"
            logs = "".join(f"\n--- {s.root.name} server log ---\n{s.log_tail(15)}" for s in servers)
            raise AssertionError(f"step failed: {what}\n{type(exc).__name__}: {exc}\n({where}){logs}") from exc
