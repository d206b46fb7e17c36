# syntax=docker/dockerfile:1
# The EOS playground image, in three stages:
#   build    compiles EOS's programs in release mode, from the lock file;
#   runtime  a small image with EOS and the tools to explore a root (bash, jq, inotify-tools...);
#   dev      the dev container: the same, plus the Rust toolchain to change EOS itself and
#            eos-lsp, the language server for scripts.
ARG RUST_VERSION=1.88

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY eos eos
COPY supervisor supervisor
COPY script-actor script-actor
COPY eos-lsp eos-lsp
# The demo embeds the playground's scripts.
COPY playground playground
# The language server on its own: built with the others, its Rune feature would be in all.
RUN cargo build --release --locked \
    && cargo build --release --locked -p eos-lsp \
    && ./target/release/eos man --dir /src/man

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        bash ca-certificates git inotify-tools jq less procps tini vim-tiny \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/eos /src/target/release/act \
    /src/target/release/supervisor /src/target/release/script-actor /usr/local/bin/
COPY --from=build /src/man /usr/local/share/man/man1/
# A user of its own owns the EOS root; the root must not be writable by others.
RUN useradd --create-home --shell /bin/bash eos \
    && install -d -m 700 -o eos /var/actors
USER eos
ENV EOS_ROOT=/var/actors
# tini reaps zombies and forwards signals; the supervisor reaps its own children either way.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["supervisor"]

FROM rust:${RUST_VERSION}-bookworm AS dev
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        bash ca-certificates git inotify-tools jq less man-db procps shellcheck sudo tini vim \
    && rm -rf /var/lib/apt/lists/* \
    && rustup component add rustfmt clippy
COPY --from=build /src/target/release/eos /src/target/release/act \
    /src/target/release/supervisor /src/target/release/script-actor \
    /src/target/release/eos-lsp /usr/local/bin/
COPY --from=build /src/man /usr/local/share/man/man1/
ARG USERNAME=vscode
RUN useradd --create-home --shell /bin/bash "$USERNAME" \
    && echo "$USERNAME ALL=(root) NOPASSWD:ALL" > /etc/sudoers.d/"$USERNAME" \
    && install -d -m 700 -o "$USERNAME" /var/actors \
    && chown -R "$USERNAME" /usr/local/cargo /usr/local/rustup
USER $USERNAME
CMD ["sleep", "infinity"]
