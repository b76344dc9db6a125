#!/usr/bin/env bash
# Starts the Temporal dev server (SQLite file and web UI), the worker and the API, all on the
# embedded defaults, with data under .data/. Ctrl-C stops all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .data
BIN=.venv/bin
pids=()
stop() { trap - INT TERM EXIT; kill -TERM "${pids[@]}" 2>/dev/null || true; wait || true; }
trap stop INT TERM EXIT

mapfile -t search_attributes < <("$BIN/python" -m workflows.search)  # the one list of them
"$BIN/temporal" server start-dev --db-filename .data/temporal.db --ip 127.0.0.1 --port 7233 \
  --ui-port 8233 --log-level warn "${search_attributes[@]}" &
pids+=($!)
until "$BIN/temporal" operator cluster health --address 127.0.0.1:7233 >/dev/null 2>&1; do sleep 0.5; done

"$BIN/python" -m core.admin migrate
"$BIN/python" worker.py &
pids+=($!)
"$BIN/python" -m api.serve --host 127.0.0.1 --port 8000 &  # one process per core (api/serve.py)
pids+=($!)
echo "API on http://127.0.0.1:8000/docs, Temporal UI on http://127.0.0.1:8233. Ctrl-C stops all."
wait -n "${pids[@]}"
