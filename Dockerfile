# The image the Helm chart runs (charts/rampart: image.repository). Not built by CI, which has
# no container runtime:
#   docker build -t ghcr.io/rampart-dev/rampart:0.1.0 .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p rampart && cp target/release/rampart /rampart

# glibc and libgcc only; runs as UID 65532, as the chart's securityContext does.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /rampart /usr/local/bin/rampart
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/rampart"]
