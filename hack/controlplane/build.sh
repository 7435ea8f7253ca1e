#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from the pinned modules beside this script into a cache
# directory keyed by version, and reuses them when they are already there. Prints the bin directory.
# With --node it also builds what a node needs (kubelet) and the rest of a cluster's control plane
# (kube-controller-manager, kube-scheduler), for the node test (test/node), from the same k8s.io/kubernetes.
#
# Several builds may run at once (make demo while make test builds): one holds a lock on the cache
# (flock) while the others wait and then reuse what it built, and each binary is written under a unique
# temporary name and renamed into place, so no one ever runs or replaces a half-written binary.
#
#   CNS_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/calico-node-status)
set -euo pipefail

node=false
for arg in "$@"; do
	case $arg in
	--node) node=true ;;
	*) echo "controlplane: unknown argument $arg (--node)" >&2; exit 2 ;;
	esac
done

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
names=(etcd kube-apiserver kubectl)
if $node; then names+=(kube-controller-manager kube-scheduler kubelet); fi
# Kubernetes binaries carry their version (kubectl version, the kubelet's node version, Helm's kubeVersion
# checks), stamped as Kubernetes' own build does; .<name>.stamp marks a binary built so (older unstamped
# builds in the cache are relinked once).
kube_minor=${kube_version#v1.}
kube_minor=${kube_minor%%.*}
kube_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	kube_ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kube_minor -X $pkg.gitTreeState=clean"
done
built() { # name
	[ -x "$bin/$1" ] && { [ "$1" = etcd ] || [ "$(cat "$bin/.$1.stamp" 2>/dev/null)" = "$kube_version" ]; }
}
all_built() {
	local n
	for n in "${names[@]}"; do built "$n" || return 1; done
}
# Everything there already: no lock needed (binaries only ever appear complete, by rename).
if all_built; then
	echo "$bin"
	exit 0
fi
if command -v flock >/dev/null 2>&1; then
	exec 9>"$cache_root/controlplane/.build.lock"
	if ! flock -n 9; then
		echo "controlplane: another build into $cache_root/controlplane is running; waiting for it" >&2
		flock 9
	fi
fi

build() { # name module-dir package ldflags
	local name=$1 dir=$2 pkg=$3 ldflags=$4 tmp
	if built "$name"; then return 0; fi
	echo "controlplane: building $name ($pkg) into $bin (first time takes minutes)" >&2
	tmp=$(mktemp "$bin/.$name.XXXXXX")
	# shellcheck disable=SC2064 # the name is fixed now
	trap "rm -f '$tmp'" EXIT
	(cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$tmp" "$pkg")
	chmod 755 "$tmp"
	mv -f "$tmp" "$bin/$name"
	trap - EXIT
	if [ "$name" != etcd ]; then echo "$kube_version" >"$bin/.$name.stamp"; fi
}
build etcd "$here/etcd" . ""
for n in "${names[@]}"; do
	case $n in
	etcd) ;;
	*) build "$n" "$here/kube" "k8s.io/kubernetes/cmd/$n" "$kube_ldflags" ;;
	esac
done
echo "$bin"
