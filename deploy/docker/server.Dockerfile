# The Gantry server image: `gantry` alone on a slim Debian, as a non-root user. Build from the repository's root:
#   docker build -f deploy/docker/server.Dockerfile -t gantry:dev .
# The image runs `gantry server` (listening on 0.0.0.0: gRPC 50051, HTTP 8080 for /metrics, /healthz, /readyz);
# `docker run gantry:dev migrate` applies the migrations and exits. No HEALTHCHECK: orchestrators probe /healthz and
# /readyz themselves (deploy/README.md).

FROM rust:1.88-bookworm AS build
WORKDIR /src
# The workspace: its manifests and every member (crates/*, tests), the protos gantry-proto compiles and the migrations
# gantry-store embeds.
COPY Cargo.toml Cargo.lock rustfmt.toml clippy.toml ./
COPY crates crates
COPY tests tests
COPY proto proto
COPY migrations migrations
# Cache mounts keep the registry and the target directory between builds; the binary is copied out of the cache.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p gantry --bin gantry \
    && install -D -m 0755 target/release/gantry /out/gantry

FROM debian:bookworm-slim AS runtime
# CA certificates for TLS to Postgres, S3 and an OIDC issuer; nothing else is installed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 gantry \
    && useradd --system --uid 10001 --gid gantry --home-dir /var/lib/gantry --create-home --shell /usr/sbin/nologin gantry
COPY --from=build /out/gantry /usr/local/bin/gantry
USER 10001:10001
# The working directory is the gantry user's home: the default blob store (gantry-blobs) and SQLite file land there
# when nothing else is configured. Mount a volume on it, or point GANTRY_BLOB_STORE at S3, to keep offloaded values.
WORKDIR /var/lib/gantry
ENV GANTRY_LISTEN=0.0.0.0:50051 \
    GANTRY_HTTP_LISTEN=0.0.0.0:8080 \
    RUST_LOG=info
EXPOSE 50051 8080
ENTRYPOINT ["gantry"]
CMD ["server"]
