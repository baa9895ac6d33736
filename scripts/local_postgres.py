"""Find or start the pin2deal warehouse server.

``url`` prints the warehouse URL: ``PIN2DEAL_WAREHOUSE_URL`` when the user set one (nothing is started),
else a private PostgreSQL cluster under ``.local/postgres`` that this script initialises and starts on a
free loopback port (or reuses when it already runs). ``stop`` stops that private cluster. ``run -- CMD...`` runs
CMD with ``PIN2DEAL_WAREHOUSE_URL`` set the same way and afterwards stops the private cluster only if it started it
(``make test``: a cluster that ``make demo``/``make ui`` left running stays up), exiting with CMD's status.

Standard library only: it runs before the virtualenv exists. PostgreSQL refuses to run as root, so as
root the cluster belongs to the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLUSTER_DIR = ROOT / ".local" / "postgres"
DATA_DIR = CLUSTER_DIR / "data"
PORT_FILE = CLUSTER_DIR / "port"
DATABASE = "pin2deal"
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or in /usr/lib/postgresql/*/bin.\n"
    "Install them (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@15) or point\n"
    "PIN2DEAL_WAREHOUSE_URL at an existing server, e.g. postgresql://user:password@host:5432/pin2deal"
)


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    sys.exit(INSTALL_HINT)


def _run_as_owner() -> list[str]:
    """Prefix that runs a server command as a non-root user (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def _owner_name() -> str:
    return "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _url(port: int) -> str:
    return f"postgresql://{_owner_name()}@127.0.0.1:{port}/{DATABASE}"


def _initdb() -> None:
    CLUSTER_DIR.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        # The server user must be able to reach its data directory through every parent.
        for parent in [CLUSTER_DIR, *CLUSTER_DIR.parents]:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)
        os.chown(CLUSTER_DIR, owner.pw_uid, owner.pw_gid)
    subprocess.run(
        [*_run_as_owner(), _bin("initdb"), "-D", str(DATA_DIR), "-A", "trust", "-U", _owner_name(), "-E", "UTF8",
         "--no-instructions"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def running_url() -> str | None:
    """The private cluster's URL when its server accepts connections, else None."""
    if PORT_FILE.exists() and DATA_DIR.exists():
        port = int(PORT_FILE.read_text())
        if _accepts_connections(port):
            return _url(port)
    return None


def start() -> str:
    url = running_url()
    if url:
        return url
    if not (DATA_DIR / "PG_VERSION").exists():
        _initdb()
    port = _free_port()
    log_file = CLUSTER_DIR / "server.log"
    options = f"-p {port} -k {CLUSTER_DIR} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(
        [*_run_as_owner(), _bin("pg_ctl"), "-D", str(DATA_DIR), "-l", str(log_file), "-o", options, "-w", "start"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    PORT_FILE.write_text(str(port))
    deadline = time.monotonic() + 30
    while not _accepts_connections(port):
        if time.monotonic() > deadline:
            sys.exit(f"PostgreSQL did not start; see {log_file}")
        time.sleep(0.2)
    subprocess.run(
        [*_run_as_owner(), _bin("createdb"), "-h", "127.0.0.1", "-p", str(port), DATABASE],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return _url(port)


def stop() -> None:
    if not (DATA_DIR / "PG_VERSION").exists():
        print("no private PostgreSQL cluster under .local/postgres")
        return
    subprocess.run([*_run_as_owner(), _bin("pg_ctl"), "-D", str(DATA_DIR), "-m", "fast", "stop"], check=False)


def run(command: list[str]) -> int:
    """Run ``command`` against the warehouse; stop the private cluster afterwards (also on failure or Ctrl-C) only
    if this call started it. Returns the command's exit status (128 + N when signal N ended it, as a shell says)."""
    url = os.environ.get("PIN2DEAL_WAREHOUSE_URL")
    started = not url and running_url() is None
    interrupt = signal.getsignal(signal.SIGINT)
    try:
        url = url or start()
        # Ctrl-C reaches the whole process group: the command handles it (pytest tears its session down, dropping
        # its databases), and the server stops once the command has ended. The command gets the default handler.
        signal.signal(signal.SIGINT, lambda *_: None)
        status = subprocess.run(command, env={**os.environ, "PIN2DEAL_WAREHOUSE_URL": url}).returncode
    finally:
        signal.signal(signal.SIGINT, interrupt)
        if started:
            stop()
    return status if status >= 0 else 128 - status


def main(argv: list[str]) -> None:
    command = argv[1] if len(argv) > 1 else "url"
    if command == "url":
        print(os.environ.get("PIN2DEAL_WAREHOUSE_URL") or start())
    elif command == "stop":
        stop()
    elif command == "run" and argv[2:3] == ["--"] and argv[3:]:
        sys.exit(run(argv[3:]))
    else:
        sys.exit(f"usage: {argv[0]} [url|stop|run -- COMMAND...]")


if __name__ == "__main__":
    main(sys.argv)
