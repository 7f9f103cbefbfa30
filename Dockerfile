# The runner image: the static binary on an empty base, built offline.
#
#   make image        # = make build, then this file on a prepared context (bin/image)
#
# Nothing is pulled and nothing is compiled here: `make image` builds the static
# binary outside (CGO off, version stamped), then copies it into a small context
# directory with the host's CA certificates and a passwd/group entry, and builds
# this file on that directory only. The context looks like:
#
#   claudette-runner              the binary
#   rootfs/etc/passwd, group      root only
#   rootfs/etc/nsswitch.conf      hosts: files dns (extra_hosts before DNS)
#   rootfs/etc/ssl/certs/ca-certificates.crt
#   rootfs/tmp/ (1777), rootfs/root/ (0700)
#
# The runner runs as root inside its container: it talks to the Docker socket
# (root on the host in any case) and hands checkouts to the sandbox user with
# chown. The compose file drops every capability but CHOWN, DAC_OVERRIDE and
# FOWNER and makes the root file system read-only. See README "Operating it".
FROM scratch

ARG VERSION=dev
ARG COMMIT=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="claudette-runner" \
      org.opencontainers.image.description="Runs Claude Code turns for an orchestrator, each in a hardened Docker sandbox" \
      org.opencontainers.image.source="https://github.com/claudette-dev/claudette-runner" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${CREATED}"

COPY rootfs/ /
COPY claudette-runner /usr/local/bin/claudette-runner

# In a container the health endpoint must listen beyond loopback to be
# published; the compose file publishes it on the host's loopback only.
ENV CLAUDETTE_LISTEN=0.0.0.0:9464 \
    PATH=/usr/local/bin

USER 0:0
WORKDIR /
EXPOSE 9464

HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/claudette-runner", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/claudette-runner"]
CMD ["start"]
