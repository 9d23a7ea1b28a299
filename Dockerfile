# gpubot container image: build a wheel, install it into a clean virtualenv, run as non-root.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY playbooks ./playbooks
COPY runbooks ./runbooks
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/gpubot \
 && /opt/gpubot/bin/pip install --no-cache-dir /wheels/*.whl

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin gpubot
COPY --from=build /opt/gpubot /opt/gpubot
ENV PATH=/opt/gpubot/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001
# Playbooks and runbooks ship inside the package; no working-directory files are needed.
RUN gpubot playbooks lint
ENTRYPOINT ["gpubot"]
CMD ["diagnose", "--demo"]
