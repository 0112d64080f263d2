"""Running the workers: a Huey consumer with our tasks, one warm pylint per worker thread, and
the requeuer thread that runs the maintenance jobs the runtime hands it (giving lost work back
to the queue).

Tuned for latency: Huey polls an idle SQLite queue with a back-off that grows to seconds by
default; here it polls every 50 ms (RedisHuey blocks on the list instead of polling at all).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Sequence

from huey.consumer import Consumer

from gitserver.core.config import Settings

from . import lease
from .tasks import CheckWorker, Tasks

logger = logging.getLogger(__name__)

REQUEUE_INTERVAL_S = 2.0
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Workers:
    """The consumer threads of one process and what they share."""

    def __init__(self, settings: Settings, tasks: Tasks, worker: CheckWorker,
                 maintenance: Sequence[Callable[[], object]] = ()) -> None:
        self.worker = worker
        self.tasks = tasks
        self.maintenance = tuple(maintenance)
        self.consumer = Consumer(
            self.tasks.huey, workers=settings.queue.workers, worker_type="thread",
            periodic=False, initial_delay=0.05, backoff=1.0, max_delay=0.05,
            check_worker_health=True, graceful_signal="TERM",
            shutdown_timeout=settings.checker.timeout_s + 5)
        self._stop = threading.Event()
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._requeuer = threading.Thread(target=self._requeue_loop, name="requeuer",
                                          daemon=True)
        self._warmer = threading.Thread(target=self._warm, name="warm-pylint", daemon=True)

    def start(self) -> None:
        """Start in the background, leaving the process's signal handlers as they were."""
        saved = {sig: signal.getsignal(sig) for sig in _SIGNALS}
        self.consumer.start()
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        self._warmer.start()
        self._requeuer.start()

    def run(self) -> None:
        """Run in the foreground until SIGTERM/SIGINT (`gitserver worker`)."""
        self._warmer.start()
        self._requeuer.start()
        try:
            self.consumer.run()
        finally:
            self.close()

    def stop(self) -> None:
        """Let the running checks finish (bounded by the check timeout), then stop."""
        self._stop.set()
        self.consumer.stop(graceful=True)
        self.close()

    def close(self) -> None:
        """Stop the requeuer and the warm lint processes."""
        self._stop.set()
        self.worker.close()

    def _warm(self) -> None:
        try:
            self.worker.warm()
        except Exception:  # pylint: disable=broad-exception-caught
            logger.exception("warming pylint failed; the first check will start it")

    def _requeue_loop(self) -> None:
        while True:
            try:
                lease.beat(self.name, self.worker.threads)
                for job in self.maintenance:
                    job()
            except Exception:  # pylint: disable=broad-exception-caught
                logger.exception("requeueing lost work failed; trying again")
            if self._stop.wait(REQUEUE_INTERVAL_S):
                return
