# The server scripts/deb-test.sh installs the packages on: Debian 12 (bookworm), the local base of
# docker/local-base.sh, with systemd's tools (systemd-analyze verify and security, the
# deb-systemd-helper calls of the maintainer scripts) as on a real server. systemd does not run
# in it: the test starts each unit's command line itself, as the unit's user.
#   docker build --build-arg BASE=sdgx-local-base:bookworm -t sdgx-deb-test:bookworm - <docker/deb-test.Dockerfile
ARG BASE=sdgx-local-base:bookworm
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
