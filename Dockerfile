# gpubot container image. Stage 1 builds the wheel and a virtualenv (build tools live only
# here); stage 2 copies just the virtualenv onto a slim base and runs as a non-root user.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY playbooks ./playbooks
COPY runbooks ./runbooks
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/gpubot \
 && /opt/gpubot/bin/pip install /wheels/*.whl \
 && /opt/gpubot/bin/pip uninstall -y pip setuptools wheel

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin gpubot \
 && pip uninstall -y pip setuptools wheel
COPY --from=build /opt/gpubot /opt/gpubot
ENV PATH=/opt/gpubot/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
# Playbooks and runbooks ship inside the package; no working-directory files are needed.
RUN gpubot playbooks lint
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["gpubot"]
CMD ["serve"]
