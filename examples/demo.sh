#!/usr/bin/env bash
# A tour on a bundled template: check every template, list one search space, draw it, then a
# real search of it on scikit-learn's digits (a few minutes on 2 CPU cores) and its report.
# (`make demo` runs this inside the project's .venv.) Rerunning resumes the search where it
# stopped; FRESH=1 starts it afresh.
set -euo pipefail
ARCHC="${ARCHC:-.venv/bin/archc}"
OUT="${OUT:-out/demo}"
TEMPLATE="${TEMPLATE:-squeezenet_se_auto}"
TRIALS="${TRIALS:-8}"
EPOCHS="${EPOCHS:-10}"
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

echo
echo "== archc search $TEMPLATE on digits: $TRIALS trials, up to $EPOCHS epochs each"
SEARCH="$OUT/search"
"$ARCHC" search "$TEMPLATE" --data digits --dir "$SEARCH" --tuner random \
  --trials "$TRIALS" --epochs "$EPOCHS" --patience 3 --seed 1 ${FRESH:+--overwrite}

echo
echo "== archc report $SEARCH"
"$ARCHC" report "$SEARCH" --plot "$OUT/pareto.png"
echo "TensorBoard (HParams dashboard): tensorboard --logdir $SEARCH/logs"
