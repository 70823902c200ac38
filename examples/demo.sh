#!/usr/bin/env bash
# A tour of the front end on a bundled template: check every template, list one search
# space, draw it. (`make demo` runs this inside the project's .venv.)
set -euo pipefail
ARCHC="${ARCHC:-.venv/bin/archc}"
OUT="${OUT:-out/demo}"
TEMPLATE="${TEMPLATE:-squeezenet_se_auto}"
mkdir -p "$OUT"

echo "== archc check: every bundled template and block library"
"$ARCHC" check templates/*.arch templates/blocks/*.arch

echo
echo "== archc space $TEMPLATE"
"$ARCHC" space "$TEMPLATE"

echo
echo "== archc dot $TEMPLATE"
"$ARCHC" dot "$TEMPLATE" -o "$OUT/$TEMPLATE.dot"
if command -v dot >/dev/null 2>&1; then
  "$ARCHC" dot "$TEMPLATE" --format svg -o "$OUT/$TEMPLATE.svg"
  echo "wrote $OUT/$TEMPLATE.dot and $OUT/$TEMPLATE.svg"
else
  echo "wrote $OUT/$TEMPLATE.dot (install Graphviz for SVG/PNG: apt-get install graphviz)"
fi
