# Moim: the `moim` binary (HTTP/WebSocket API and workers) in a small image.
# Build:  docker build -t moim .
# Run:    docker compose up   (see docker-compose.yml for PostgreSQL and NATS)

# ---- build ------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src

# The whole workspace: cargo needs every member's manifest (.dockerignore keeps target/ out).
COPY . .

RUN cargo build --release --locked --bin moim

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --user-group --uid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin moim

COPY --from=build /src/target/release/moim /usr/local/bin/moim

USER moim
ENV MOIM_BIND=0.0.0.0:8080
EXPOSE 8080

ENTRYPOINT ["moim"]
CMD ["serve"]
