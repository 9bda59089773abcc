# syntax=docker/dockerfile:1
#
# One image for the whole stack: bff-mobile, bff-web and bff-stack (whose
# `simulate` subcommand is the upstream simulator). docker-compose.yml picks
# the command per service; the default command is bff-mobile.
#
#   docker build -t bff-stack .
#   docker run --rm -e BFF_JWT_HS256_SECRET=dev-secret -e BFF_LISTEN=0.0.0.0:8081 -p 8081:8081 bff-stack
#
# The dependency build is cached with BuildKit cache mounts (cargo registry,
# git checkouts and target/ persist between builds on the same builder), so a
# change to our own code recompiles only our crates.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------- builder
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
WORKDIR /build

# Only what `cargo build` reads (README, docs/, scripts, deploy/ and openapi/
# changes do not invalidate this layer). Every workspace member is needed
# for --locked, and the root manifest names tests/e2e/main.rs.
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY shared shared
COPY bff-mobile bff-mobile
COPY bff-web bff-web
COPY src src
COPY tests tests

# The binaries are copied out of the cached target/ in the same step: a
# cache mount is not part of the image.
RUN --mount=type=cache,id=bff-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=bff-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=bff-target,target=/build/target,sharing=locked \
    cargo build --release --locked -p bff-mobile -p bff-web -p bff-stack \
    && mkdir -p /out \
    && cp target/release/bff-mobile target/release/bff-web target/release/bff-stack /out/

# ---------------------------------------------------------------- runtime
FROM debian:${DEBIAN_RELEASE}-slim AS runtime

# ca-certificates for HTTPS upstreams and JWKS URLs. No curl: the compose
# health checks use bash's /dev/tcp (bash is part of debian-slim).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged uid/gid (no login shell, no home).
RUN groupadd --system --gid 10001 bff \
    && useradd --system --uid 10001 --gid bff --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin bff

COPY --from=builder /out/bff-mobile /out/bff-web /out/bff-stack /usr/local/bin/

USER 10001:10001

# Logs are JSON lines. BFF_LISTEN is left to the service (the default,
# 127.0.0.1, is unreachable from outside a container: docker-compose.yml sets
# 0.0.0.0:8081 and 0.0.0.0:8082).
ENV BFF_LOG_FORMAT=json

# bff-mobile 8081, bff-web 8082, simulator control API 9100 and its eight
# services 9101-9108.
EXPOSE 8081 8082 9100-9108

STOPSIGNAL SIGTERM
CMD ["bff-mobile"]
