# A Python worker image: the Python SDK (sdk/python, distribution gantry-sdk) and the seed example's worker
# (sdk/python/examples/seed.py), as a non-root user. Build from the repository's root:
#   docker build -f deploy/docker/python-worker.Dockerfile -t gantry-python-worker:dev .
# It registers the example's tasks and polls for them at GANTRY_ENDPOINT (and GANTRY_TOKEN, GANTRY_CA_FILE, ... as
# seed.py reads them). For your own tasks, start from this file and copy your module instead of the example.

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 gantry \
    && useradd --system --uid 10001 --gid gantry --home-dir /app --create-home --shell /usr/sbin/nologin gantry
WORKDIR /build
# The SDK generates its gRPC modules from the repository's proto/ while it builds (setup.py finds ../../proto), so
# both go in at their places in the repository; the build directory is removed after the install.
COPY proto proto
COPY sdk/python sdk/python
RUN pip install ./sdk/python && rm -rf /build
WORKDIR /app
COPY --chown=10001:10001 sdk/python/examples/seed.py seed.py
USER 10001:10001
ENV GANTRY_ENDPOINT=http://gantry:50051
ENTRYPOINT ["python", "seed.py"]
CMD ["worker"]
