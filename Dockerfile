# syntax=docker/dockerfile:1
#
# AndreyVPN bot and its AmneziaWG interface in one container (the layout wg-easy and
# amnezia-wg-easy use). Build and run it with docker-compose.yml; see deploy/README.md.
#
# Stages:
#   amneziawg-go     userspace AmneziaWG (used by awg-quick when the host has no kernel module)
#   amneziawg-tools  awg and awg-quick
#   node-base        Node build toolchain (python3, make, g++ for better-sqlite3 when no prebuild fits)
#   app-build        npm ci + npm run build -> /app/dist
#   prod-deps        npm ci --omit=dev -> /app/node_modules
#
# npm runs no package's install scripts (--ignore-scripts): only better-sqlite3's, on purpose,
# the one native addon the app needs (tsc needs none).
#   runtime          node:20-bookworm-slim + iproute2, iptables, the AmneziaWG binaries and the app
#
# Node stages and the runtime share one base image, so the native better-sqlite3 addon is built
# against the same Node ABI and glibc it runs with.

# Base images by tag and digest: a tag re-pushed upstream cannot change what is built. To move to a
# newer image, read its digest with `docker buildx imagetools inspect <image:tag>` and update both.
ARG NODE_IMAGE=node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0
ARG GO_IMAGE=golang:1.24-bookworm@sha256:1a6d4452c65dea36aac2e2d606b01b4a029ec90cc1ae53890540ce6173ea77ac
ARG DEBIAN_IMAGE=debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251

# Upstream AmneziaWG sources: pinned by tag, and the checkout must be the commit the tag pointed
# to when it was pinned, so a moved tag fails the build instead of shipping other code.
# (For an ad-hoc build with another tag, pass an empty *_COMMIT to skip that check.)
ARG AMNEZIAWG_GO_VERSION=v0.2.18
ARG AMNEZIAWG_GO_COMMIT=f4f4c999267437c3eb909e8d0e5278fb4596d9a7
ARG AMNEZIAWG_TOOLS_VERSION=v1.0.20260223
ARG AMNEZIAWG_TOOLS_COMMIT=5d6179a6d0842e98dfb349c28cf1bd8e4b9d1079

# ---------------------------------------------------------------------------------------------
FROM ${GO_IMAGE} AS amneziawg-go
ARG AMNEZIAWG_GO_VERSION
ARG AMNEZIAWG_GO_COMMIT
WORKDIR /src
RUN set -eu; \
    git clone --depth 1 --branch "${AMNEZIAWG_GO_VERSION}" https://github.com/amnezia-vpn/amneziawg-go.git .; \
    head="$(git rev-parse HEAD)"; \
    if [ -n "${AMNEZIAWG_GO_COMMIT}" ] && [ "$head" != "${AMNEZIAWG_GO_COMMIT}" ]; then \
      echo "amneziawg-go ${AMNEZIAWG_GO_VERSION} is $head, expected ${AMNEZIAWG_GO_COMMIT}" >&2; exit 1; \
    fi; \
    go mod download; \
    go mod verify; \
    go build -trimpath -ldflags '-s -w' -o /out/amneziawg-go .; \
    /out/amneziawg-go --version

# ---------------------------------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS amneziawg-tools
ARG AMNEZIAWG_TOOLS_VERSION
ARG AMNEZIAWG_TOOLS_COMMIT
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git gcc libc6-dev make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# src/Makefile: the default target builds `wg`; `install` copies it as $(BINDIR)/awg and, with
# WITH_WGQUICK=yes, wg-quick/linux.bash as $(BINDIR)/awg-quick.
RUN set -eu; \
    git clone --depth 1 --branch "${AMNEZIAWG_TOOLS_VERSION}" https://github.com/amnezia-vpn/amneziawg-tools.git .; \
    head="$(git rev-parse HEAD)"; \
    if [ -n "${AMNEZIAWG_TOOLS_COMMIT}" ] && [ "$head" != "${AMNEZIAWG_TOOLS_COMMIT}" ]; then \
      echo "amneziawg-tools ${AMNEZIAWG_TOOLS_VERSION} is $head, expected ${AMNEZIAWG_TOOLS_COMMIT}" >&2; exit 1; \
    fi; \
    make -C src -j"$(nproc)"; \
    make -C src install DESTDIR=/out PREFIX=/usr SYSCONFDIR=/etc \
      WITH_WGQUICK=yes WITH_BASHCOMPLETION=no WITH_SYSTEMDUNITS=no; \
    /out/usr/bin/awg --version

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS node-base
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./

FROM node-base AS app-build
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only; depends on the lockfile alone, so code changes reuse this layer.
FROM node-base AS prod-deps
RUN npm ci --omit=dev --ignore-scripts \
 && npm rebuild better-sqlite3

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG AMNEZIAWG_GO_VERSION
ARG AMNEZIAWG_TOOLS_VERSION
LABEL org.opencontainers.image.title="andreyvpn-bot" \
      org.opencontainers.image.description="Telegram bot that runs an AmneziaWG / WireGuard server" \
      andreyvpn.amneziawg-go.version="${AMNEZIAWG_GO_VERSION}" \
      andreyvpn.amneziawg-tools.version="${AMNEZIAWG_TOOLS_VERSION}"

# iproute2 (ip) and bash are what awg-quick needs; iptables for the NAT rules in PostUp/PostDown;
# kmod so `modprobe amneziawg` works when /lib/modules is mounted; wireguard-tools for
# VPN_FLAVOR=wireguard (uses the host's kernel module); tini reaps the daemonized amneziawg-go.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iptables kmod tini wireguard-tools \
 && rm -rf /var/lib/apt/lists/*

COPY --from=amneziawg-go /out/amneziawg-go /usr/bin/amneziawg-go
COPY --from=amneziawg-tools /out/usr/bin/awg /out/usr/bin/awg-quick /usr/bin/

ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    DATA_DIR=/data \
    VPN_CONFIG_DIR=/etc/amnezia/amneziawg

WORKDIR /app
COPY package.json ./
COPY locales ./locales
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=app-build /app/dist ./dist

RUN mkdir -p -m 0700 /data /etc/amnezia/amneziawg
VOLUME ["/data", "/etc/amnezia/amneziawg"]
EXPOSE 51820/udp

# GET /healthz on HTTP_HOST:WEBHOOK_PORT answers 200 when the bot, its database and a VPN node are up
# (with METRICS_TOKEN set, it wants that token).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const h=process.env.HTTP_HOST,t=process.env.METRICS_TOKEN?.trim();const host=!h||h==='0.0.0.0'||h==='::'?'127.0.0.1':h.includes(':')?'['+h+']':h;fetch('http://'+host+':'+(process.env.WEBHOOK_PORT||8080)+'/healthz',{headers:t?{authorization:'Bearer '+t}:{},signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# Runs as root: it creates and configures the network interface (awg-quick insists on UID 0).
# tini is PID 1: it forwards SIGTERM to node and reaps amneziawg-go when that exits.
# --max-old-space-size, --max-semi-space-size: see "Memory" in README.md.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--max-old-space-size=256", "--max-semi-space-size=8", "dist/main.js"]
