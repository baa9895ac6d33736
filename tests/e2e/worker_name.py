"""``[core] hostname_callable`` of the e2e Celery workers: each worker process names itself, so the task instances
show which of the two workers (on one machine, one host name) ran them."""

from __future__ import annotations

import os
import socket


def worker_name() -> str:
    return os.environ.get("PIN2DEAL_WORKER_NAME") or socket.getfqdn()
