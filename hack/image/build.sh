#!/usr/bin/env bash
# Builds the agent's OCI image without a container daemon, a registry or a base image (make image):
# static binaries (CGO_ENABLED=0) for each platform, stamped with hack/version.sh, put into one multi-arch
# index by hack/image (go-containerregistry). Prints the output directory on its last line; in it:
#   oci/                              OCI image layout (index.json names the multi-arch index)
#   calico-node-status-agent.oci.tar  the same as one archive: ctr -n k8s.io images import <it>
#   image.json                        reference, digest, platforms
#   bin/<os>_<arch>/                  the binaries
#
#   --out DIR        output directory (default _output/image)
#   --tag TAG        image tag (default: the version, hack/version.sh)
#   --name NAME      image repository (default: the one config/kustomization.yaml deploys)
#   --platforms L    comma-separated os/arch list (default linux/amd64,linux/arm64)
#   --label k=v      extra image label (repeatable)
#   --pause          build the node test's sandbox image (hack/image/pause) instead of the agent
#
# The ports, user and entrypoint are the DaemonSet's (config/agent/daemonset.yaml) and the Dockerfile's;
# test/image checks that all three agree.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

out=_output/image
tag=
name=ghcr.io/calico-node-status/calico-node-status-agent
platforms=linux/amd64,linux/arm64
labels=()
pause=false
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	--tag) tag=$2; shift 2 ;;
	--name) name=$2; shift 2 ;;
	--platforms) platforms=$2; shift 2 ;;
	--label) labels+=(--label "$2"); shift 2 ;;
	--pause) pause=true; shift ;;
	*) echo "image: unknown argument $1" >&2; exit 2 ;;
	esac
done

case $out in /*) ;; *) out=$root/$out ;; esac
if ! command -v go >/dev/null 2>&1; then
	echo "image: go is not on PATH; install Go (https://go.dev/doc/install) and retry" >&2
	exit 1
fi
{ read -r version; read -r commit; } < <(hack/version.sh)
tag=${tag:-$version}
# Reproducible: the same commit gives the same digests (file and image times are the commit's time).
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
mkdir -p "$out" bin
(cd hack/image && CGO_ENABLED=0 go build -trimpath -o "$root/bin/cns-image" .)

binaries=()
IFS=, read -r -a plats <<<"$platforms"
for p in "${plats[@]}"; do
	os=${p%%/*} arch=${p#*/}
	arch=${arch%%/*}
	dir="$out/bin/${os}_$arch"
	mkdir -p "$dir"
	if $pause; then
		(cd hack/image && CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags="-s -w" -o "$dir/pause" ./pause)
		binaries+=(--binary "$p=$dir/pause")
	else
		echo "image: building calico-node-status-agent $version for $p" >&2
		pkg=github.com/calico-node-status/calico-node-status/internal/version
		CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
			-ldflags="-s -w -X $pkg.Version=$version -X $pkg.Commit=$commit" \
			-o "$dir/calico-node-status-agent" ./cmd/calico-node-status-agent
		binaries+=(--binary "$p=$dir/calico-node-status-agent")
	fi
done

if $pause; then
	# Kubernetes' pause runs as 65535; no ports, no labels beyond the title.
	bin/cns-image build --name "$name" --tag "$tag" --out "$out" --path /pause --user 65535:65535 \
		--label org.opencontainers.image.title=pause "${labels[@]}" "${binaries[@]}" >&2
else
	bin/cns-image build --name "$name" --tag "$tag" --out "$out" \
		--path /calico-node-status-agent --user 65532:65532 \
		--expose 9496/tcp --expose 9497/tcp \
		--label org.opencontainers.image.title=calico-node-status-agent \
		--label org.opencontainers.image.description="Keeps CalicoNodeStatus objects current from the node's BIRD" \
		--label org.opencontainers.image.version="$version" \
		--label org.opencontainers.image.revision="$commit" \
		--label org.opencontainers.image.licenses=Apache-2.0 \
		"${labels[@]}" "${binaries[@]}" >&2
fi
echo "$out"
