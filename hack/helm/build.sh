#!/usr/bin/env bash
# Builds helm from the module pinned beside this script into the cache (keyed by version) and prints its
# path; reuses it when it is there. Concurrent runs wait for each other (flock) and never see a
# half-written binary (unique temporary name, then rename).
#
#   CNS_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/calico-node-status)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's#^[[:space:]]*\(require[[:space:]]*\)\{0,1\}helm.sh/helm/v3 \(v[^ ]*\).*#\2#p' "$here/go.mod" | head -n 1)
if [ -z "$version" ]; then
	echo "helm: cannot read the pinned helm.sh/helm/v3 version from $here/go.mod" >&2
	exit 1
fi
cache_root=${CNS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/calico-node-status}
dir="$cache_root/helm/$version"
if [ -x "$dir/helm" ]; then
	echo "$dir/helm"
	exit 0
fi
if ! command -v go >/dev/null 2>&1; then
	echo "helm: go is not on PATH; install Go (https://go.dev/doc/install) and retry" >&2
	exit 1
fi
mkdir -p "$dir"
if command -v flock >/dev/null 2>&1; then
	exec 9>"$cache_root/helm/.build.lock"
	flock 9
fi
if [ ! -x "$dir/helm" ]; then
	echo "helm: building helm $version into $dir (first time takes a minute or two)" >&2
	tmp=$(mktemp "$dir/.helm.XXXXXX")
	trap 'rm -f "$tmp"' EXIT
	(cd "$here" && CGO_ENABLED=0 go build -trimpath -o "$tmp" helm.sh/helm/v3/cmd/helm)
	chmod 755 "$tmp"
	mv -f "$tmp" "$dir/helm"
	trap - EXIT
fi
echo "$dir/helm"
