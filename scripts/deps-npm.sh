#!/usr/bin/env bash
# Installs the chdb engine (ClickHouse as a library) into .deps/node, once. The
# sink's modern-dialect test reads the Native files it writes with it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.deps/node
if [ -d "$dir/node_modules/chdb" ]; then exit 0; fi
if ! command -v npm >/dev/null 2>&1; then
	echo "deps: npm missing; the chdb test will skip" >&2
	exit 0
fi
mkdir -p "$dir"
echo "deps: npm install chdb (about 550 MB)"
(cd "$dir" && { [ -f package.json ] || echo '{"private":true}' > package.json; } &&
	npm install --no-audit --no-fund --loglevel=error chdb >/dev/null)
