#!/usr/bin/env bash
# The product as a user installs it, as pipx does: this checkout's wheel, non-editable, into a new virtual
# environment with its dependencies from the package index (no root, no test extra, no sandbox), then `rt`
# run from another directory with a temporary HOME whose ~/.config/remote-training/hosts.yaml is the team's.
# Prints the wheel's top-level packages, the hosts `rt hosts.list` finds and whether `rt --list` shows any
# sandbox task; fails if the wheel ships rt_sandbox or a sandbox task shows. Needs the package index
# (tests/unit/test_product_install.py checks the same offline). Usage: scripts/check-product-install.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
began=$(date +%s)

mkdir "$work/source"
cp setup.cfg pyproject.toml "$work/source/"
cp -r remote_training rt_tasks tasks rt_sandbox "$work/source/"  # tasks and rt_sandbox too: the build must leave them out
"$PY" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check "$work/source"
echo "wheel's packages: $(cd "$work/venv/lib"/python3*/site-packages && ls -d remote_training rt_tasks tasks rt_sandbox 2>/dev/null | tr '\n' ' ')"
if "$work/venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null | grep -iE '^(moto|pytest|hypothesis) '; then
  echo "error: the product installed development packages" >&2
  exit 1
fi

mkdir -p "$work/home/.config/remote-training" "$work/elsewhere"
cp hosts.yaml "$work/home/.config/remote-training/hosts.yaml"
cd "$work/elsewhere"
run() { env -i PATH=/usr/bin:/bin HOME="$work/home" "$work/venv/bin/rt" "$@"; }
echo "hosts found: $(run hosts.list --json | "$PY" -c 'import json, sys; print(" ".join(h["name"] for h in json.load(sys.stdin)))')"
if run --list | grep -E '^\s+(sandbox\.|demo\b)'; then
  echo "error: the installed rt lists sandbox tasks" >&2
  exit 1
fi
if [ -e "$work/venv/lib"/python3*/site-packages/rt_sandbox ]; then
  echo "error: the wheel ships rt_sandbox" >&2
  exit 1
fi
echo "rt --list: no sandbox task; installed and checked in $(( $(date +%s) - began )) s"
