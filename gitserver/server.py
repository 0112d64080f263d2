"""Running the service: `serve` (uvicorn, plus embedded workers) and `worker` (workers alone)."""

from __future__ import annotations

import logging

import uvicorn

from .app import create_app
from .config import Settings

logger = logging.getLogger(__name__)


def serve(settings: Settings) -> None:
    """Run the web server in the foreground, with the workers when `queue.embedded`."""
    app = create_app(settings, embedded_workers=settings.queue.embedded)
    config = uvicorn.Config(app, host=settings.server.host, port=settings.server.port,
                            log_config=None, access_log=False, timeout_graceful_shutdown=30,
                            server_header=False)
    logger.info("gitserver listening on %s (data in %s)", settings.server.base_url,
                settings.data_dir)
    uvicorn.Server(config).run()


def run_worker(settings: Settings) -> None:
    """Run the check and mail workers in the foreground (`gitserver worker`)."""
    from checker.consumer import Workers  # pylint: disable=import-outside-toplevel

    from .models import init_db  # pylint: disable=import-outside-toplevel
    from .schema import migrate  # pylint: disable=import-outside-toplevel
    init_db(settings.database_url)
    migrate()
    logger.info("gitserver worker: %d threads on %s", settings.queue.workers,
                settings.queue_url.split("@")[-1])
    Workers(settings).run()
