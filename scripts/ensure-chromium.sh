#!/usr/bin/env bash
# The browser tests (tests/web/test_browser.py) drive Debian's chromium through its chromedriver.
# Install both when they are missing and this machine can (root and apt-get); otherwise say so and go on:
# the browser tests then skip with that reason.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium and chromium-driver for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null; } \
    || echo "warning: could not install chromium; the browser tests will skip" >&2
else
  echo "warning: chromium/chromedriver missing and not root: the browser tests will skip" >&2
fi
