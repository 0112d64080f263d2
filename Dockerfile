# gitserver: one image for `serve` and `worker`. Slim, non-root, git from Debian.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 gitserver

WORKDIR /app
COPY pyproject.toml README.md config.toml ./
COPY gitserver ./gitserver
COPY hooks ./hooks
COPY checker ./checker
COPY mailer ./mailer
COPY templates ./templates
# Editable install: templates/ is found next to the packages, as in a checkout.
RUN pip install --no-cache-dir -e . \
    && mkdir -p /data && chown gitserver:gitserver /data

USER gitserver
ENV GITSERVER_STORAGE_DATA_DIR=/data \
    GITSERVER_SERVER_HOST=0.0.0.0 \
    GITSERVER_SERVER_PORT=8000
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
ENTRYPOINT ["gitserver"]
CMD ["serve"]
