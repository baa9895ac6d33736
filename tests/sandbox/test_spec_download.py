"""Pinterest's OpenAPI description reaches a user's clone by `make spec` (or PIN2DEAL_PINTEREST_SPEC); only .ci/run
knows where the project's CI keeps a copy."""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.pinterest.spec import DOWNLOADED_SPEC, SPEC_ENV, SpecDownloadError, default_spec_path, download_spec
from scripts.airflow_local import free_port
from tests.conftest import ROOT


@pytest.fixture
def served() -> Iterator[dict[str, bytes]]:
    """A loopback HTTP server answering ``/openapi.json`` with ``served["body"]``."""
    content: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(content["body"])

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    content["url"] = f"http://127.0.0.1:{server.server_port}/openapi.json".encode()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield content
    server.shutdown()


def test_make_spec_offline_fails_in_one_line_saying_what_to_do(tmp_path: Path) -> None:
    """As typed, with no route to github.com (a proxy on a closed loopback port refuses at once, anywhere)."""
    env = {k: v for k, v in os.environ.items() if k != SPEC_ENV}
    env |= {"https_proxy": f"http://127.0.0.1:{free_port()}", "HTTPS_PROXY": f"http://127.0.0.1:{free_port()}"}
    done = subprocess.run(["make", "spec"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    said = [line for line in done.stderr.splitlines() if line and not line.startswith("make")]
    assert len(said) == 1, done.stderr
    assert said[0].startswith("could not download Pinterest's OpenAPI description from https://raw.githubusercontent")
    assert "https://github.com/pinterest/api-description" in said[0] and f"set {SPEC_ENV}" in said[0]


def test_the_description_is_found_through_the_variable_else_where_make_spec_puts_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(SPEC_ENV, str(tmp_path / "openapi.json"))
    assert default_spec_path() == tmp_path / "openapi.json"
    monkeypatch.delenv(SPEC_ENV)
    assert default_spec_path() == DOWNLOADED_SPEC == ROOT / ".local" / "specs" / "pinterest" / "openapi.json"


def test_only_the_ci_script_knows_the_ci_machines_copy() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    naming = [
        path
        for path in tracked.splitlines()
        if (ROOT / path).is_file()
        and path != "tests/sandbox/test_spec_download.py"
        and "shared/specs" in (ROOT / path).read_text(errors="replace")
    ]
    assert naming == [".ci/run"]


def test_a_download_that_is_not_pinterests_file_is_refused(served: dict[str, bytes], tmp_path: Path) -> None:
    served["body"] = b'{"openapi": "3.0.3", "paths": {}}'
    with pytest.raises(SpecDownloadError, match="different file"):
        download_spec(tmp_path / "openapi.json", url=served["url"].decode())
    assert not (tmp_path / "openapi.json").exists()


@pytest.mark.pinterest_spec
def test_pinterests_file_is_stored_where_the_sandbox_looks(served: dict[str, bytes], tmp_path: Path) -> None:
    served["body"] = default_spec_path().read_bytes()
    target = tmp_path / "specs" / "openapi.json"
    assert download_spec(target, url=served["url"].decode()) == target
    assert target.read_bytes() == served["body"]
