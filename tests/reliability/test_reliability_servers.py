"""The throwaway PostgreSQL servers of the reliability tests stop with their test, whatever the test left them doing
(a restart under way in another thread, a data directory moved away from its pid file), and the session's sweep
stops and names any server left running under the session's temporary directory."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from tests.conftest import stop_servers_left
from tests.postgres_servers import ThrowawayPostgres, servers_under


@pytest.mark.slow
def test_a_throwaway_server_stops_with_its_test_whatever_it_was_doing(tmp_path_factory) -> None:
    cluster = ThrowawayPostgres(tmp_path_factory.mktemp("pg"))
    try:
        # A crash-restart still under way in another thread when the test ends: stopped after the restart's start,
        # not between its stop and its start (where pg_ctl finds no server, and the restart then starts one).
        url = cluster.start()
        restart = threading.Thread(target=cluster.restart, args=("immediate",))
        restart.start()
        while restart.is_alive() and not cluster._restarting.locked():
            time.sleep(0.001)
        cluster.stop()
        restart.join()
        assert cluster.running() == []
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2).close()

        # A data directory moved away (its pid file with it) while the server runs: found by its command line.
        cluster.start()
        [pid] = cluster.running()
        cluster.cluster.DATA_DIR.rename(cluster.cluster.DATA_DIR.with_name("moved"))
        assert list(servers_under(cluster.directory)) == [pid]
        cluster.stop()
        assert cluster.running() == []
    finally:
        cluster.stop()


@pytest.mark.slow
def test_the_session_sweep_stops_and_names_a_server_left_running(tmp_path_factory) -> None:
    directory = tmp_path_factory.mktemp("pg")
    cluster = ThrowawayPostgres(directory)
    try:
        cluster.start()
        [pid] = cluster.running()
        with pytest.raises(AssertionError, match=f"left running by the tests \\(stopped now\\): pid {pid} on "):
            stop_servers_left(directory)
        assert servers_under(directory) == {}
        stop_servers_left(directory)  # nothing left: passes
    finally:
        cluster.stop()
