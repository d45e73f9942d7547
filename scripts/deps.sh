#!/usr/bin/env bash
# `make deps`: the system programs REM's tests use, installed from Debian's packages only where
# missing — Graphviz (`dot`, rem graph dot), systemd-analyze (the timer units), chromium and
# chromedriver (the web view in a real browser), git (the git importer's tests).
set -euo pipefail
need=()
command -v git >/dev/null || need+=(git)
command -v dot >/dev/null || need+=(graphviz)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
if ((${#need[@]} == 0)); then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "make deps: missing ${need[*]}, and this is not a Debian/Ubuntu machine (no apt-get): install them with your package manager, then run make test again" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo)
  else
    echo "make deps: missing ${need[*]}; installing them needs root. Run: sudo apt-get install -y --no-install-recommends ${need[*]} (then make test again)" >&2
    exit 1
  fi
fi
echo "make deps: installing ${need[*]} (Debian packages)" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
