"""Running the workers: Huey consumers with our tasks, one warm pylint per check thread, and
the requeuer thread that runs the maintenance jobs the runtime hands it (giving lost work back
to the queue).

Two queues: the check queue (checks and report mails), consumed by `gitserver worker` on any
host, and the repo queue (work that reads the repositories, like `schedule_history`), consumed
by one thread of every `gitserver serve`, which has the repositories on its disk.

Tuned for latency: Huey polls an idle SQLite queue with a back-off that grows to seconds by
default; here it polls every 50 ms (RedisHuey blocks on the list instead of polling at all).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence

from huey import Huey
from huey.consumer import Consumer

from gitserver.core.config import Settings

from .tasks import CheckWorker, Tasks

logger = logging.getLogger(__name__)

REQUEUE_INTERVAL_S = 2.0
REPO_THREADS = 1  # the repo queue's work is light: recording rows, reading trees
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _consumer(settings: Settings, huey: Huey, threads: int) -> Consumer:
    return Consumer(huey, workers=threads, worker_type="thread", periodic=False,
                    initial_delay=0.05, backoff=1.0, max_delay=0.05, check_worker_health=True,
                    graceful_signal="TERM", shutdown_timeout=settings.checker.timeout_s + 5)


class Workers:
    """The consumers of one process and what they share: the check queue's consumer (with warm
    lint processes) when there is a `worker`, the repo queue's when there is a `repo_huey`, and
    the requeuer thread running the `maintenance` jobs."""

    # pylint: disable-next=too-many-arguments  # the queues of one process and their jobs
    def __init__(self, settings: Settings, tasks: Tasks, worker: CheckWorker | None,
                 maintenance: Sequence[Callable[[], object]] = (),
                 repo_huey: Huey | None = None) -> None:
        self.worker = worker
        self.tasks = tasks
        self.maintenance = tuple(maintenance)
        self.consumers: list[Consumer] = []
        if worker is not None:
            self.consumers.append(_consumer(settings, tasks.huey, settings.queue.workers))
        if repo_huey is not None:
            self.consumers.append(_consumer(settings, repo_huey, REPO_THREADS))
        self._stop = threading.Event()
        self._requeuer = threading.Thread(target=self._requeue_loop, name="requeuer",
                                          daemon=True)
        self._warmer = threading.Thread(target=self._warm, name="warm-pylint", daemon=True)

    def start(self) -> None:
        """Start in the background, leaving the process's signal handlers as they were."""
        saved = {sig: signal.getsignal(sig) for sig in _SIGNALS}
        for consumer in self.consumers:
            consumer.start()
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        if self.worker is not None:
            self._warmer.start()
        self._requeuer.start()

    def run(self) -> None:
        """Run in the foreground until SIGTERM/SIGINT (`gitserver worker`: the check queue)."""
        first, *others = self.consumers
        for consumer in others:
            consumer.start()
        if self.worker is not None:
            self._warmer.start()
        self._requeuer.start()
        try:
            first.run()
        finally:
            for consumer in others:
                consumer.stop(graceful=True)
            self.close()

    def stop(self) -> None:
        """Let the running tasks finish (bounded by the check timeout), then stop."""
        self._stop.set()
        for consumer in self.consumers:
            consumer.stop(graceful=True)
        self.close()

    def close(self) -> None:
        """Stop the requeuer and the warm lint processes."""
        self._stop.set()
        if self.worker is not None:
            self.worker.close()

    def _warm(self) -> None:
        assert self.worker is not None
        try:
            self.worker.warm()
        except Exception:  # pylint: disable=broad-exception-caught
            logger.exception("warming pylint failed; the first check will start it")

    def _requeue_loop(self) -> None:
        while not self._stop.wait(REQUEUE_INTERVAL_S):
            try:
                for job in self.maintenance:
                    job()
            except Exception:  # pylint: disable=broad-exception-caught
                logger.exception("requeueing lost work failed; trying again")
