# Dockerfile - one image holding the three homestream stages; the container's
# command picks the stage: ingestor, enricher or writer (see deploy/docker/).
#
#   docker build -t homestream .
#   docker run --env-file my.env homestream ingestor
#
# Everything comes from Debian 12 packages. The build stage compiles with
# meson (release, warnings as errors); the final stage holds only the runtime
# libraries, curl for the healthcheck, and runs as the unprivileged user
# "homestream" (uid 10001).

ARG DEBIAN_IMAGE=debian:12-slim

FROM ${DEBIAN_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        gcc libc6-dev pkg-config meson ninja-build \
        libwebsockets-dev librdkafka-dev libcurl4-openssl-dev libjansson-dev \
        libmicrohttpd-dev zlib1g-dev check \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Only the three daemons are compiled and installed (into /out/usr/local/bin).
RUN meson setup /build --buildtype=release --prefix=/usr/local -Dwerror=true -Dtests=disabled \
    && meson compile -C /build homestream-ingestor homestream-enricher homestream-writer \
    && meson install -C /build --no-rebuild --destdir /out \
    && for s in ingestor enricher writer; do \
           /out/usr/local/bin/homestream-$s --version || exit 1; \
       done

FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libwebsockets17 librdkafka1 libcurl4 libjansson4 libmicrohttpd12 zlib1g \
        ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 homestream \
    && useradd --system --uid 10001 --gid homestream --no-create-home \
        --home-dir /var/lib/homestream --shell /usr/sbin/nologin homestream \
    && install -d -o homestream -g homestream -m 0750 \
        /var/lib/homestream /var/lib/homestream/spool /var/lib/homestream/enricher
COPY --from=build /out/usr/local/bin/homestream-ingestor \
                  /out/usr/local/bin/homestream-enricher \
                  /out/usr/local/bin/homestream-writer /usr/local/bin/
COPY deploy/docker/entrypoint.sh /usr/local/bin/homestream-entrypoint
COPY deploy/docker/healthcheck.sh /usr/local/bin/homestream-healthcheck
RUN chmod 0755 /usr/local/bin/homestream-entrypoint /usr/local/bin/homestream-healthcheck

# The ingestor's spool lives on a volume (docker-compose.yml mounts one here).
ENV SPOOL_DIR=/var/lib/homestream/spool \
    LOG_FORMAT=json
VOLUME ["/var/lib/homestream"]
WORKDIR /var/lib/homestream
USER homestream:homestream

# Admin endpoints: ingestor 8081, enricher 8082, writer 8083. The entrypoint
# binds the running stage's port on 0.0.0.0 unless ADMIN_ADDR says otherwise.
EXPOSE 8081 8082 8083
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["homestream-healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["homestream-entrypoint"]
CMD ["help"]
