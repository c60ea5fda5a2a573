#!/usr/bin/env bash
# Installs this checkout for development into the project's own virtual environment, .venv/ (PEP 668:
# Debian's system Python refuses pip, so nothing goes there). No root needed, except to add Debian's
# python3-venv where it is missing. A no-op when all is there. The sandbox's Debian packages (root) are
# scripts/install-sandbox.sh's.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
    # Debian's python3 ships venv's ensurepip apart, in python3-venv (python3.X-venv).
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing Debian's python3-venv (the system Python has no ensurepip)"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    else
      echo "error: $PY cannot make a virtual environment; install python3-venv (as root: apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
  echo "making the project's virtual environment: $VENV ($("$PY" --version 2>&1))"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"

# This checkout, editable, with its dependencies and the `test` extra (setup.cfg). Skipped when the
# venv already has it, at versions setup.cfg allows.
if ! "$VPY" - "$PWD" <<'PY' 2>/dev/null
import configparser, json, sys
import importlib.metadata as md
from pathlib import Path

root = Path(sys.argv[1])
# installed, editable, from this checkout? (the source tree's own egg-info has no direct_url.json)
urls = [json.loads(d.read_text("direct_url.json") or "{}") for d in md.distributions(name="remote-training")]
assert any(u.get("dir_info", {}).get("editable") and u.get("url") == root.as_uri() for u in urls), "not installed here"
cfg = configparser.ConfigParser()
cfg.read(root / "setup.cfg")
wanted = cfg["options"]["install_requires"].split() + cfg["options.extras_require"]["test"].split()
from pip._vendor.packaging.requirements import Requirement
for line in wanted:
    req = Requirement(line)
    assert req.specifier.contains(md.version(req.name), prereleases=True), line
# the console scripts as setup.cfg names them now (a package renamed since the install leaves `rt` broken)
scripts = {e.name: e.value for e in md.distribution("remote-training").entry_points if e.group == "console_scripts"}
wanted_scripts = dict(line.replace(" ", "").split("=", 1)
                      for line in cfg["options.entry_points"]["console_scripts"].strip().splitlines())
assert scripts == wanted_scripts, scripts
# the plain .pth form (editable_mode=compat, below), not setuptools' import-hook finder
import sysconfig
assert not list(Path(sysconfig.get_path("purelib")).glob("__editable___remote_training_*finder.py")), "finder"
PY
then
  echo "installing this checkout and its Python packages into $VENV (pip install -e '.[test]')"
  # editable_mode=compat: a plain .pth line with the checkout, not setuptools' default import-hook finder, which
  # every Python start in this venv pays at `site` (~17 ms of each `inv`/`rt` command). The checkout goes on the
  # path below in any case, so nothing more is importable. Compat mode: "Legacy Behavior" in
  # https://setuptools.pypa.io/en/latest/userguide/development_mode.html
  "$VPY" -m pip install -q --disable-pip-version-check -e '.[test]' --config-settings editable_mode=compat
fi
# rt_sandbox (the sandbox fleet: tests, demo, benchmarks) is not in the product's wheel (setup.cfg), so the
# editable install does not map it: the checkout goes on the venv's path, as a development install of old did.
SITE=$("$VPY" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
echo "$PWD" > "$SITE/remote-training-checkout.pth"
# Byte-compile the checkout, as pip does for an installed wheel: an editable install leaves it to the
# first run, and with PYTHONDONTWRITEBYTECODE set every command would compile ~30 modules (~40 ms) anew.
"$VPY" -m compileall -q remote_training rt_tasks tasks rt_sandbox >/dev/null
