#!/usr/bin/env bash
# Installs the Debian packages the sandbox fleet needs (tests, demo, benchmarks; run as root); a no-op when
# all is there. The project's own Python packages go into .venv/ (scripts/install.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# Docker comes apart (engine ≥ 25 for what the jobs use, Compose v2, buildx); the rest are plain packages.
debs=(docker-registry openssh-server busybox-static iproute2 socat iptables util-linux procps debootstrap)

docker_ok() {
  local major
  major=$(dockerd --version 2>/dev/null | sed -n 's/^Docker version \([0-9][0-9]*\)\..*/\1/p')
  [ -n "$major" ] && [ "$major" -ge 25 ] || return 1
  # v2 prints "2.26.1-4" (Debian) or "v2.29.1"; Compose v1 has no `docker compose` at all
  docker compose version --short 2>/dev/null | grep -Eq '^v?([2-9]|[1-9][0-9])\.' || return 1
  docker buildx version >/dev/null 2>&1
}

missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
docker_ok && need_docker=0 || need_docker=1

if ((${#missing[@]})) || ((need_docker)); then
  if [ "$(id -u)" != 0 ]; then
    echo "error: run as root to install ${missing[*]}$( ((need_docker)) && echo " docker (dockerd >= 25, compose v2, buildx)")" >&2
    exit 1
  fi
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  if ((need_docker)); then
    case "$codename" in
      bookworm)
        # Debian 12 has only docker.io 20.10 and Compose v1: take docker from Debian 13, pinned at 100 so
        # that nothing else ever comes from trixie; containerd and runc named from bookworm, else apt
        # takes trixie's along with docker.io.
        if [ ! -e /etc/apt/sources.list.d/rt-trixie.sources ]; then
          printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" "Suites: trixie" "Components: main" \
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" >/etc/apt/sources.list.d/rt-trixie.sources
        fi
        if [ ! -e /etc/apt/preferences.d/rt-trixie ]; then
          printf '%s\n' "Package: *" "Pin: release n=trixie" "Pin-Priority: 100" >/etc/apt/preferences.d/rt-trixie
        fi
        missing+=(docker.io/trixie docker-cli/trixie docker-compose/trixie docker-buildx/trixie
                  containerd/bookworm runc/bookworm) ;;
      *) missing+=(docker.io docker-cli docker-compose docker-buildx) ;;  # Debian 13 and later: native
    esac
  fi
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if ((need_docker)) && ! docker_ok; then
    echo "error: still no dockerd >= 25 with docker compose v2 and docker buildx (dockerd: $(dockerd --version 2>&1))" >&2
    exit 1
  fi
fi
