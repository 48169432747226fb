# syntax=docker/dockerfile:1
# Build stage: the binary links SQLite, libpq and OpenSSL statically.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p fieldcrm \
 && cp target/release/fieldcrm /usr/local/bin/fieldcrm \
 && mkdir -p /empty-data

# Runtime stage: a small image, no shell tools, a non-root user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/fieldcrm /usr/local/bin/fieldcrm
# Where the SQLite default keeps its file; mount a volume here to keep it.
COPY --from=build --chown=65532:65532 /empty-data /data
VOLUME /data
ENV FIELDCRM_HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=sqlite:///data/fieldcrm.db
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/fieldcrm"]
CMD ["serve"]
