#!/usr/bin/env bash
# Debian packages the tests use: Chromium (browser test), a CJK font (so Chinese pages and the printed sheets
# render) and poppler-utils (the printed-sheet tests read the PDFs back).
set -euo pipefail
# `system-deps.sh font` installs only the CJK font (the printed confirmation sheets need it; `make setup` asks for it).
need=()
[ "${1:-}" = "font" ] || [ -x /usr/bin/chromium ] || need+=(chromium)
[ "${1:-}" = "font" ] || command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy" || need+=(fonts-wqy-zenhei)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: ${need[*]} missing and cannot be installed here (needs root and apt-get); the browser test will be skipped"
  echo "      without fonts-wqy-zenhei the printed confirmation sheets (PDF) cannot be made (or set SHEET_FONT)"
  exit 0
fi
echo "installing ${need[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
