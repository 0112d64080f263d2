"""Running the service: `serve` (uvicorn, plus embedded workers) and `worker` (workers alone)."""

from __future__ import annotations

import logging

import uvicorn

from .app import create_app
from .config import Settings

logger = logging.getLogger(__name__)


def serve(settings: Settings) -> None:
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.server.host, port=settings.server.port,
                            log_config=None, access_log=False, timeout_graceful_shutdown=30,
                            server_header=False)
    logger.info("gitserver listening on %s (data in %s)", settings.server.base_url,
                settings.data_dir)
    uvicorn.Server(config).run()


def run_worker(settings: Settings) -> None:
    raise NotImplementedError(f"workers are not built yet ({settings.queue_url})")
