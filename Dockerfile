# The cutover controller image: a static (musl) binary on distroless, running as non-root.
#   docker build -t ghcr.io/cutover-dev/cutover:0.1.0 .
FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p cutover --target x86_64-unknown-linux-musl \
 && cp target/x86_64-unknown-linux-musl/release/cutover /cutover

# distroless/static: CA certificates and /etc/passwd with nonroot (65532), nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /cutover /cutover
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/cutover"]
CMD ["run"]
