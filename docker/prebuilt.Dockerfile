# The sdgx image from binaries built outside Docker, on any Debian 12 (bookworm) base: used by
# scripts/compose-test.sh through docker/compose.local.yml on machines that cannot pull images
# (BASE is then a root filesystem imported by docker/local-base.sh). The build context is a
# staging directory holding pki-init.sh and bin/ with sdgx-coordinator and sdgx-agent:
#   docker build -f docker/prebuilt.Dockerfile --build-arg BASE=debian:bookworm-slim -t sdgx STAGING
# The compose test stages bin/ without them and mounts the host's binaries instead (compose.local.yml).
# The runtime is the same as docker/Dockerfile's final stage; keep the two alike.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
# /var/lib/sdgx: the coordinator's store and staging, or an agent's outbox (a volume).
# /pki: the coordinator's certificate, key, CA bundle and token hashes (a volume).
RUN groupadd --system --gid 10001 sdgx \
 && useradd --system --uid 10001 --gid sdgx --home-dir /var/lib/sdgx --shell /usr/sbin/nologin sdgx \
 && mkdir -p /var/lib/sdgx /pki /etc/sdgx \
 && chown sdgx:sdgx /var/lib/sdgx /pki
COPY bin/ /usr/local/bin/
COPY pki-init.sh /usr/local/bin/sdgx-pki-init
USER sdgx
WORKDIR /var/lib/sdgx
ENV RUST_LOG=info,buoyant_kernel=warn,buoyant_kernel_engine=warn,deltalake_core=warn,datafusion=warn
CMD ["sdgx-coordinator", "--help"]
