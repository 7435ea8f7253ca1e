# shellcheck shell=bash
# Sourced by the lab scripts and hack/prereqs.sh: where each binary of the lab is.
#   BIRD1_BIRD  BIRD1_BIRD6  BIRD1_BIRDC  BIRD1_BIRDC6   Debian `bird` 1.6 (installed)
#   BIRD2_BIRD  BIRD2_BIRDC  BIRD2_DIR                    Debian `bird2` unpacked in $CNS_CACHE_DIR/bird2-<version>
#   GOBGPD  GOBGP                                         Debian `gobgpd`
# Override any of them from the environment. Nothing here checks that they exist (the scripts do).
CNS_CACHE_DIR=${CNS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/calico-node-status}
BIRD1_BIRD=${BIRD1_BIRD:-/usr/sbin/bird}
BIRD1_BIRD6=${BIRD1_BIRD6:-/usr/sbin/bird6}
BIRD1_BIRDC=${BIRD1_BIRDC:-/usr/sbin/birdc}
BIRD1_BIRDC6=${BIRD1_BIRDC6:-/usr/sbin/birdc6}
if [ -z "${BIRD2_DIR:-}" ]; then
	# newest unpacked version first
	BIRD2_DIR=$(ls -d "$CNS_CACHE_DIR"/bird2-*/ 2>/dev/null | sort -rV | head -n 1)
	BIRD2_DIR=${BIRD2_DIR%/}
fi
BIRD2_BIRD=${BIRD2_BIRD:-${BIRD2_DIR:-/nonexistent/bird2}/usr/sbin/bird}
BIRD2_BIRDC=${BIRD2_BIRDC:-${BIRD2_DIR:-/nonexistent/bird2}/usr/sbin/birdc}
GOBGPD=${GOBGPD:-$(command -v gobgpd || echo /usr/bin/gobgpd)}
GOBGP=${GOBGP:-$(command -v gobgp || echo /usr/bin/gobgp)}
export CNS_CACHE_DIR BIRD1_BIRD BIRD1_BIRD6 BIRD1_BIRDC BIRD1_BIRDC6 BIRD2_DIR BIRD2_BIRD BIRD2_BIRDC GOBGPD GOBGP

cns_lab_paths() { # print the paths, one per line, as KEY=value
	local k
	for k in BIRD1_BIRD BIRD1_BIRD6 BIRD1_BIRDC BIRD1_BIRDC6 BIRD2_BIRD BIRD2_BIRDC GOBGPD GOBGP; do
		printf '%s=%s\n' "$k" "${!k}"
	done
}
