#!/usr/bin/env bash
# A newcomer's install: a fresh venv with the interpreter's own pip (no upgrade), a plain
# `pip install .`, then the demo. Any traceback in its output fails the run.
set -euo pipefail
project=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
echo "stock install with $("$work/venv/bin/pip" --version)"
if ! "$work/venv/bin/pip" install --quiet "$project" >"$work/pip.log" 2>&1; then
  echo "pip install failed:"
  tail -n 40 "$work/pip.log"
  exit 1
fi
cd "$work"
if ! "$work/venv/bin/digestbot" demo >"$work/demo.out" 2>"$work/demo.err"; then
  echo "digestbot demo failed after a stock install:"
  tail -n 40 "$work/demo.err"
  exit 1
fi
if grep -q "Traceback" "$work/demo.out" "$work/demo.err"; then
  echo "digestbot demo printed a traceback after a stock install:"
  grep -m 1 -A 30 "Traceback" "$work/demo.out" "$work/demo.err"
  exit 1
fi
grep -q "Узбекистан" "$work/demo.out" || { echo "the demo printed no Uzbekistan section"; exit 1; }
echo "stock install: digestbot demo ran clean"
