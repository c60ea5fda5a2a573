#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (run as root); a no-op when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(docker.io docker-registry docker-compose openssh-server busybox-static iproute2 socat iptables util-linux procps)
missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "error: run as root to install ${missing[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if ! "$PY" - <<'PY' 2>/dev/null
import importlib.metadata as md, re, sys
for line in open("requirements.txt"):
    name = re.split(r"[<>=\[ ]", line.strip())[0]
    if name:
        md.version(name)
PY
then
  echo "installing Python packages from requirements.txt"
  "$PY" -m pip install -q --disable-pip-version-check -r requirements.txt
fi
