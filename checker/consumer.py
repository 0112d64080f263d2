"""Running the workers: Huey consumers with our tasks, one warm pylint per check thread, and
the requeuer thread that runs the maintenance jobs the runtime hands it (giving lost work back
to the queue).

Two queues: the check queue (checks and report mails), consumed by `gitserver worker` on any
host, and the repo queue (work that reads the repositories, like `schedule_history`), consumed
by a process every `gitserver serve` starts next to itself (a `ChildProcess`), on the host that
has the repositories, and outside the web process, whose GIL stays with the pushes.

Tuned for latency: Huey polls an idle SQLite queue with a back-off that grows to seconds by
default; here it polls every 50 ms (RedisHuey blocks on the list instead of polling at all).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence

from huey import Huey
from huey.consumer import Consumer

from gitserver.core.config import Settings

from . import lease
from .tasks import CheckWorker, Tasks

logger = logging.getLogger(__name__)

REQUEUE_INTERVAL_S = 2.0
REPO_THREADS = 1  # the repo queue's work is light: recording rows, reading trees
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _consumer(settings: Settings, huey: Huey, threads: int) -> Consumer:
    return Consumer(huey, workers=threads, worker_type="thread", periodic=False,
                    initial_delay=0.05, backoff=1.0, max_delay=0.05, check_worker_health=True,
                    graceful_signal="TERM", shutdown_timeout=settings.checker.timeout_s + 5)


class ChildProcess:
    """A process of ours that lives as long as this one: started again when it dies (after a
    pause that grows while it keeps dying), stopped with SIGTERM (SIGKILL after `stop_timeout_s`)
    when this one stops. It stops by itself when this process is gone (`exit_with_parent`)."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str],
                 stop_timeout_s: float) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.stop_timeout_s = stop_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._keep_running, name=name, daemon=True)

    def start(self) -> None:
        """Start the process, and the thread that starts it again when it dies."""
        self._thread.start()

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM: it finishes its running task) and not come back."""
        with self._lock:
            self._stopping.set()
            if self._proc is not None and self._proc.poll() is None:
                self._proc.terminate()

    def wait(self) -> None:
        """Wait for the process to stop; kill it past `stop_timeout_s`."""
        self.terminate()
        proc = self._proc
        if proc is not None:
            try:
                proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %g s; killing it", self._thread.name,
                               self.stop_timeout_s)
                proc.kill()
                proc.wait()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _keep_running(self) -> None:
        pause = 1.0
        while True:
            with self._lock:
                if self._stopping.is_set():
                    return
                # Not a `with`: it runs until it dies or terminate() stops it.
                # pylint: disable-next=consider-using-with
                proc = subprocess.Popen(self.argv, env=self.env)
                self._proc = proc
            started = time.monotonic()
            code = proc.wait()
            if self._stopping.is_set():
                return
            pause = 1.0 if time.monotonic() - started > 60 else min(pause * 2, 30.0)
            logger.error("%s exited with code %s; starting it again in %g s",
                         self._thread.name, code, pause)
            self._stopping.wait(pause)


def exit_with_parent(interval_s: float = 1.0) -> None:
    """Stop this process (SIGTERM to itself: the consumer finishes its task) once the process
    that started it is gone, so a `serve` killed outright leaves no child behind."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval_s)
        logger.warning("the process that started this one (%d) is gone; stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


# pylint: disable-next=too-many-instance-attributes  # one process's queues, jobs and threads
class Workers:
    """The consumers of one process and what they share: the check queue's consumer (with warm
    lint processes) when there is a `worker`, the repo queue's when there is a `repo_huey`, the
    requeuer thread running the `maintenance` jobs, and `children` started and stopped with
    them."""

    # pylint: disable-next=too-many-arguments  # the queues of one process and their jobs
    def __init__(self, settings: Settings, tasks: Tasks, worker: CheckWorker | None,
                 maintenance: Sequence[Callable[[], object]] = (), *,
                 repo_huey: Huey | None = None,
                 children: Sequence[ChildProcess] = ()) -> None:
        self.worker = worker
        self.tasks = tasks
        self.maintenance = tuple(maintenance)
        self.children = tuple(children)
        self.consumers: list[Consumer] = []
        if worker is not None:
            self.consumers.append(_consumer(settings, tasks.huey, settings.queue.workers))
        if repo_huey is not None:
            self.consumers.append(_consumer(settings, repo_huey, REPO_THREADS))
        self._stop = threading.Event()
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
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
        for child in self.children:
            child.start()

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
        for child in self.children:
            child.terminate()  # all at once: each finishes its running task meanwhile
        for consumer in self.consumers:
            consumer.stop(graceful=True)
        for child in self.children:
            child.wait()
        self.close()

    def close(self) -> None:
        """Stop the requeuer and the warm lint processes; a check worker's last beat says it has
        no threads, so that a push's queue estimate stops counting them at once."""
        self._stop.set()
        if self._requeuer.is_alive():
            self._requeuer.join(timeout=REQUEUE_INTERVAL_S + 5)
        if self.worker is not None:
            try:
                lease.beat(self.name, 0)
            except Exception:  # pylint: disable=broad-exception-caught
                logger.exception("could not record that this worker stopped; its beat goes "
                                 "stale by itself within seconds")
            self.worker.close()

    def _warm(self) -> None:
        assert self.worker is not None
        try:
            self.worker.warm()
        except Exception:  # pylint: disable=broad-exception-caught
            if self._stop.is_set():
                return  # stopped while warming up: the lint processes are gone, as meant
            logger.exception("warming pylint failed; the first check will start it")

    def _requeue_loop(self) -> None:
        while True:
            try:
                if self.worker is not None:  # a check worker: say it is alive, with its threads
                    lease.beat(self.name, self.worker.threads)
                for job in self.maintenance:
                    job()
            except Exception:  # pylint: disable=broad-exception-caught
                logger.exception("requeueing lost work failed; trying again")
            if self._stop.wait(REQUEUE_INTERVAL_S):
                return
