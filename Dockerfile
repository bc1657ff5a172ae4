# syntax=docker/dockerfile:1
# Builder: Poetry builds the wheel, which is installed (with the postgres extra) into a venv.
FROM python:3.12-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /build
RUN pip install --no-cache-dir "poetry==2.5.1"
COPY pyproject.toml poetry.lock README.md ./
COPY src ./src
RUN poetry build --format wheel \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir "$(ls dist/py_load_medgen-*.whl)[postgres]"

# Runtime: only the virtual environment, run by an unprivileged user.
FROM python:3.12-slim-bookworm

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="py-load-medgen" \
      org.opencontainers.image.description="Keep a database an exact, up-to-date mirror of NCBI MedGen" \
      org.opencontainers.image.source="https://github.com/py-load-medgen/py-load-medgen" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"

ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XDG_DATA_HOME=/data \
    XDG_CACHE_HOME=/data/cache

RUN groupadd --system --gid 10001 medgen \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home medgen \
    && mkdir -p /data \
    && chown 10001:10001 /data

COPY --from=builder /opt/venv /opt/venv

WORKDIR /data
USER 10001:10001
ENTRYPOINT ["py-load-medgen"]
CMD ["--help"]
