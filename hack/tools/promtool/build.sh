#!/usr/bin/env bash
# Builds Prometheus's promtool from the module pinned beside this script into the cache (keyed by version)
# and reuses it when it is already there. Prints the binary's path. The first build takes minutes.
#
#   CNS_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/calico-node-status)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's#^[[:space:]]*\(require[[:space:]]*\)\{0,1\}github.com/prometheus/prometheus \(v[^ ]*\).*#\2#p' "$here/go.mod" | head -n 1)
if [ -z "$version" ]; then
	echo "promtool: cannot read the pinned github.com/prometheus/prometheus version from $here/go.mod" >&2
	exit 1
fi
cache_root=${CNS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/calico-node-status}
bin="$cache_root/bin/promtool-$version"
if [ ! -x "$bin/promtool" ]; then
	command -v go >/dev/null 2>&1 || { echo "promtool: go is not on PATH" >&2; exit 1; }
	mkdir -p "$bin"
	echo "promtool: building github.com/prometheus/prometheus/cmd/promtool $version into $bin (first time takes minutes)" >&2
	(cd "$here" && CGO_ENABLED=0 go build -trimpath -o "$bin/promtool.tmp" github.com/prometheus/prometheus/cmd/promtool)
	mv "$bin/promtool.tmp" "$bin/promtool"
fi
echo "$bin/promtool"
