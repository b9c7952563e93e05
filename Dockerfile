# syntax=docker/dockerfile:1
# The base is pinned by digest so that a rebuild gets the same Debian and Python; refresh it when
# cutting a release (docs/releasing.md). Any Debian-based image with python3 (>= 3.11) and its
# venv module works: tests/deploy builds this file from one made locally with mmdebstrap.
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# Behind a package mirror or a TLS-intercepting proxy, give pip its configuration as build
# secrets; they are mounted only while pip runs and never land in a layer:
#   docker build --secret id=pip.conf,src=pip.conf --secret id=pip-cert,src=ca.crt .
# (in that pip.conf: cert = /run/secrets/pip-cert)

# Wheel stage: the project's own wheel, built from the source tree.
FROM ${BASE_IMAGE} AS wheel
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY exporter ./exporter
RUN --mount=type=secret,id=pip.conf,target=/etc/pip.conf --mount=type=secret,id=pip-cert \
    python3 -m venv /opt/build \
 && /opt/build/bin/pip wheel --no-cache-dir --quiet --no-deps --disable-pip-version-check \
      --progress-bar off --wheel-dir /dist .

# Runtime: a virtualenv run by an unprivileged user. Nothing is written at run time, so the
# container works with a read-only root filesystem.
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="octavia-exporter" \
      org.opencontainers.image.description="Prometheus exporter for OpenStack Octavia" \
      org.opencontainers.image.source="https://github.com/octavia-exporter/octavia-exporter" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV VIRTUAL_ENV=/opt/octavia-exporter \
    PATH=/opt/octavia-exporter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN python3 -m venv "$VIRTUAL_ENV" \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin octavia-exporter
# Dependencies first, pinned and hashed (requirements.txt, exported from pyproject.toml): a change
# to the exporter's code rebuilds only the layers below this one.
COPY requirements.txt /tmp/requirements.txt
RUN --mount=type=secret,id=pip.conf,target=/etc/pip.conf --mount=type=secret,id=pip-cert \
    pip install --no-cache-dir --quiet --disable-pip-version-check --progress-bar off \
      --require-hashes -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
COPY --from=wheel /dist/ /tmp/dist/
# --no-deps and then `pip check`: a requirements.txt that no longer covers pyproject.toml's
# dependencies fails the build instead of fetching unpinned packages.
RUN pip install --no-cache-dir --quiet --disable-pip-version-check --no-deps /tmp/dist/*.whl \
 && rm -r /tmp/dist \
 && pip check
USER 10001
EXPOSE 9879
# The check reads the exporter's own settings (PID 1's flags, the environment, --config-file),
# so a moved port or TLS in --web.config.file is followed, not contradicted.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["octavia-exporter", "healthcheck", "--args-from-pid", "1"]
ENTRYPOINT ["octavia-exporter"]
CMD ["--web.listen-address", ":9879"]
