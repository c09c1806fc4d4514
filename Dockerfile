# syntax=docker/dockerfile:1
# Shiftlane operator image.
#   docker build -t shiftlane:dev .
#   docker run --rm shiftlane:dev --help

ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: wheels for shiftlane and all its runtime dependencies ----------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# Only what the build needs (pyproject references README.md).
COPY pyproject.toml README.md ./
COPY operator/ ./operator/
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && pip wheel --wheel-dir /wheels .

# ---- runtime ----------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --gid 65532 shiftlane \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin shiftlane
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels shiftlane \
 && command -v shiftlane \
 && python -c "import shiftlane"

LABEL org.opencontainers.image.title="shiftlane" \
      org.opencontainers.image.description="Progressive delivery operator for Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"

# Numeric UID so Kubernetes can verify runAsNonRoot.
USER 65532:65532
WORKDIR /tmp
# 8080: Prometheus /metrics, 8081: /healthz
EXPOSE 8080 8081
ENTRYPOINT ["shiftlane"]
CMD ["run"]
