# The hub image. It physically contains no member-side code: only exchange/ and
# policies/ are copied, and the last build step fails if `feeds` is importable.
#
# The wheel is built from this partial tree. Hatchling builds it fine without
# feeds/ (the package is simply absent from the wheel; checked with hatchling
# 1.33). The wheel still declares the `feeds` console script, which cannot
# import here, and the guard below asserts exactly that. The install is not
# editable, so nothing runs from /src, which is deleted.
# tests/architecture/test_dockerfile.py mirrors these steps without Docker.

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY exchange/ exchange/
COPY policies/ policies/
RUN pip install ".[hub]"

WORKDIR /var/lib/exchange
RUN rm -rf /src \
    && useradd --system --no-create-home --home-dir /var/lib/exchange --uid 10001 exchange \
    && chown exchange:exchange /var/lib/exchange \
    && chmod 0700 /var/lib/exchange
USER exchange
# SQLite lives here (mode 0700) unless EXCHANGE_DATABASE_URL names PostgreSQL.
ENV EXCHANGE_HOME=/var/lib/exchange/data

RUN python -c "import exchange.app" && ! python -c "import feeds"

EXPOSE 6100
CMD ["exchange", "serve", "--host", "0.0.0.0"]
