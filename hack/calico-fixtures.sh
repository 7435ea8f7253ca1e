#!/usr/bin/env bash
# Extracts the Calico manifests the API tier's "beside Calico" tests install (Calico's own CRDs and its
# API server's APIService) from a projectcalico/calico git repository (a checkout or a bare mirror) at a
# release tag, into the cache: $CNS_CACHE_DIR/calico-fixtures/<version>/. Nothing of Calico is kept in
# this repository; the tests read the files from the cache (CNS_CALICO_FIXTURES overrides the directory).
#
#   hack/calico-fixtures.sh [--if-available] CALICO_SRC [VERSION]
#
# CALICO_SRC: a git clone of https://github.com/projectcalico/calico (work tree or bare); VERSION defaults
# to v3.32.1. With --if-available a missing CALICO_SRC or an already filled cache is not an error (make
# test uses it); otherwise the files are extracted again.
set -euo pipefail

if_available=false
if [[ ${1:-} == --if-available ]]; then
	if_available=true
	shift
fi
src=${1:-}
version=${2:-v3.32.1}
cache=${CNS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/calico-node-status}
dest=$cache/calico-fixtures/$version

# What the tests use, as "path in projectcalico/calico -> file name in the cache".
files=(
	"api/config/crd/projectcalico.org_caliconodestatuses.yaml native-v3/projectcalico.org_caliconodestatuses.yaml"
	"libcalico-go/config/crd/crd.projectcalico.org_caliconodestatuses.yaml crd-v1/crd.projectcalico.org_caliconodestatuses.yaml"
	"libcalico-go/config/crd/crd.projectcalico.org_bgpconfigurations.yaml crd-v1/crd.projectcalico.org_bgpconfigurations.yaml"
	"libcalico-go/config/crd/crd.projectcalico.org_bgppeers.yaml crd-v1/crd.projectcalico.org_bgppeers.yaml"
	"libcalico-go/config/crd/crd.projectcalico.org_clusterinformations.yaml crd-v1/crd.projectcalico.org_clusterinformations.yaml"
	"libcalico-go/config/crd/crd.projectcalico.org_felixconfigurations.yaml crd-v1/crd.projectcalico.org_felixconfigurations.yaml"
	"libcalico-go/config/crd/crd.projectcalico.org_ippools.yaml crd-v1/crd.projectcalico.org_ippools.yaml"
	"manifests/apiserver.yaml apiserver/apiserver.yaml"
)

if $if_available && [[ -f $dest/SOURCE ]]; then
	exit 0
fi
if [[ -z $src ]] || ! git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	if $if_available; then
		echo "calico-fixtures: no projectcalico/calico repository given (CALICO_SRC=${src:-unset}); the API tier's Calico cases will skip (fail under CI=true)" >&2
		exit 0
	fi
	echo "calico-fixtures: CALICO_SRC must name a git clone of https://github.com/projectcalico/calico (got '${src}')" >&2
	exit 1
fi
commit=$(git -C "$src" rev-parse --verify --quiet "$version^{commit}") || {
	echo "calico-fixtures: $src has no tag $version (git -C $src fetch --tags)" >&2
	exit 1
}

tmp=$(mktemp -d "$cache/calico-fixtures.tmp.XXXXXX" 2>/dev/null || { mkdir -p "$cache" && mktemp -d "$cache/calico-fixtures.tmp.XXXXXX"; })
trap 'rm -rf "$tmp"' EXIT
{
	echo "projectcalico/calico $version (commit $commit), extracted by hack/calico-fixtures.sh from $src"
} >"$tmp/SOURCE"
for entry in "${files[@]}"; do
	read -r from to <<<"$entry"
	mkdir -p "$tmp/$(dirname "$to")"
	git -C "$src" show "$commit:$from" >"$tmp/$to"
	echo "$to <- $from" >>"$tmp/SOURCE"
done
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "calico-fixtures: Calico $version manifests in $dest"
