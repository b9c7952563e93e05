# syntax=docker/dockerfile:1
# Build stage: make the wheel from the source tree.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN python -m pip install --no-cache-dir build \
 && python -m build --wheel --outdir /dist

# Runtime stage: the wheel in a virtualenv, run as an unprivileged user. Nothing is written at
# run time, so the container works with a read-only root filesystem.
FROM python:3.11-slim
ENV VIRTUAL_ENV=/opt/octavia-exporter \
    PATH=/opt/octavia-exporter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /dist/*.whl /tmp/
RUN python -m venv "$VIRTUAL_ENV" \
 && "$VIRTUAL_ENV/bin/pip" install --no-cache-dir /tmp/*.whl \
 && rm /tmp/*.whl \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin exporter
USER 10001
EXPOSE 9879
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9879/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["octavia-exporter"]
CMD ["--web.listen-address", ":9879"]
