"""Throwaway PostgreSQL servers of the test suite, and the sweep that stops any left running.

A test that restarts or crashes its server (tests/reliability) takes it from ``ThrowawayPostgres``: the private
cluster of scripts/local_postgres.py in a temporary directory, whose ``stop`` ends the server whatever the test left
it doing (a restart still under way in another thread, crash recovery, a pid file gone with its directory). The
root conftest sweeps the session's temporary directory at the end of the session (each xdist worker, then the
controller, which also covers a worker that died): a server found there is stopped and the session fails.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
RESTART_TIMEOUT = 120  # seconds a restart (stop, crash recovery, start) may take on a busy machine


class ThrowawayPostgres:
    """A private PostgreSQL cluster under ``directory`` that a test may restart, crash and must leave stopped."""

    def __init__(self, directory: Path) -> None:
        spec = importlib.util.spec_from_file_location(f"throwaway_postgres_{id(self)}", ROOT / "scripts" /
                                                      "local_postgres.py")  # fmt: skip
        self.cluster: ModuleType = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.cluster)
        self.cluster.CLUSTER_DIR = directory / "pg"
        self.cluster.DATA_DIR, self.cluster.PORT_FILE = directory / "pg" / "data", directory / "pg" / "port"
        self.directory = directory
        self._restarting = threading.Lock()  # held while pg_ctl restarts the server: stop() waits for it

    def start(self) -> str:
        """Start the server (or find it running) and return its URL."""
        return self.cluster.start()

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart -m fast``: every session is cut ("terminating connection due to administrator command");
        ``-m immediate`` is a crash: the server recovers from its WAL, and unlogged tables come back empty."""
        command = [*self.cluster._run_as_owner(), self.cluster._bin("pg_ctl"), "-D", str(self.cluster.DATA_DIR),
                   "-l", str(self.cluster.CLUSTER_DIR / "server.log"), "-m", mode, "-w", "restart"]  # fmt: skip
        with self._restarting:
            # The server's output goes to its log: a pipe of ours would be held open by the new server.
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                           timeout=RESTART_TIMEOUT)  # fmt: skip

    def stop(self) -> None:
        """Stop every server running on this cluster's directory, once any restart under way has ended."""
        if self._restarting.acquire(timeout=RESTART_TIMEOUT):
            self._restarting.release()
        for pid in servers_under(self.directory):
            stop_server(pid)

    def running(self) -> list[int]:
        return list(servers_under(self.directory))


def servers_under(root: Path) -> dict[int, Path]:
    """The live PostgreSQL servers (postmaster pid -> data directory) whose data directory is under ``root``: by
    their command line where ``/proc`` exists (a pid file can be gone with its directory), else by pid file."""
    root = Path(root).resolve()
    if Path("/proc").is_dir():
        return {pid: data for pid, data in _postmasters() if data == root or root in data.parents}
    found: dict[int, Path] = {}
    for pid_file in root.rglob("postmaster.pid") if root.is_dir() else ():
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            continue
        if _alive(pid):
            found[pid] = pid_file.parent
    return found


def stop_server(pid: int, grace: float = 30.0) -> None:
    """End the postmaster ``pid``: a fast shutdown (SIGINT), then an immediate one (SIGQUIT), then SIGKILL; return
    once it is gone (its backends leave with it)."""
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.1)
    raise RuntimeError(f"PostgreSQL server {pid} survived SIGKILL")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    # a zombie (ended, not yet reaped by its parent) is not running
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _postmasters() -> list[tuple[int, Path]]:
    """Every running ``postgres -D <dir>`` (a postmaster; its backends have no ``-D``), from ``/proc``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if args and Path(args[0]).name == "postgres" and "-D" in args[:-1] and _alive(int(entry.name)):
            found.append((int(entry.name), Path(args[args.index("-D") + 1]).resolve()))
    return found
