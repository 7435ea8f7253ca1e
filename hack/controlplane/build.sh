#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from the pinned modules beside this script into a cache
# directory keyed by version, and reuses them when they are already there. Prints the bin directory.
#
#   CNS_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/calico-node-status)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
modversion() { # module go.mod -> the version it requires
	sed -n "s#^[[:space:]]*\(require[[:space:]]*\)\{0,1\}$1 \(v[^ ]*\).*#\2#p" "$2" | head -n 1
}
kube_version=$(modversion k8s.io/kubernetes "$here/kube/go.mod")
etcd_version=$(modversion go.etcd.io/etcd/server/v3 "$here/etcd/go.mod")
if [ -z "$kube_version" ] || [ -z "$etcd_version" ]; then
	echo "controlplane: cannot read pinned versions from $here/{kube,etcd}/go.mod" >&2
	exit 1
fi
cache_root=${CNS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/calico-node-status}
bin="$cache_root/controlplane/kube-$kube_version-etcd-$etcd_version/bin"

if ! command -v go >/dev/null 2>&1; then
	echo "controlplane: go is not on PATH; install Go (https://go.dev/doc/install) and retry" >&2
	exit 1
fi

mkdir -p "$bin"
build() { # name module-dir package
	local name=$1 dir=$2 pkg=$3
	if [ -x "$bin/$name" ]; then return 0; fi
	echo "controlplane: building $name ($pkg) into $bin (first time takes minutes)" >&2
	(cd "$dir" && CGO_ENABLED=0 go build -trimpath -o "$bin/$name.tmp" "$pkg")
	mv "$bin/$name.tmp" "$bin/$name"
}
build etcd "$here/etcd" .
build kube-apiserver "$here/kube" k8s.io/kubernetes/cmd/kube-apiserver
build kubectl "$here/kube" k8s.io/kubernetes/cmd/kubectl
echo "$bin"
