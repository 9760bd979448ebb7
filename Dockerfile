# Installs and runs the gateway the way the README does (pip install ".[mlx]", gateway demo, gateway serve).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY backends ./backends
COPY admin ./admin
COPY training ./training
COPY templates ./templates
COPY static ./static
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir ".[mlx]"

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 gateway && mkdir -p /srv/gateway/data && chown gateway /srv/gateway/data
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/gateway
ENV PATH=/opt/venv/bin:$PATH \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080 \
    GATEWAY_DATA_DIR=/srv/gateway/data
USER gateway
EXPOSE 8080
VOLUME ["/srv/gateway/data"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"
CMD ["sh", "-c", "gateway demo && exec gateway serve"]
