# shellcheck shell=bash
# Sourced by the lab scripts and hack/prereqs.sh: where each binary of the lab is.
#   BIRD1_BIRD  BIRD1_BIRD6  BIRD1_BIRDC  BIRD1_BIRDC6   Debian `bird` 1.6 (installed)
#   BIRD2_BIRD  BIRD2_BIRDC  BIRD2_DIR                    Debian `bird2` unpacked in $CNS_CACHE_DIR/bird2-<version>
#   GOBGPD  GOBGP                                         Debian `gobgpd`
#   CALICO_BIRD_DIR  CALICO_BIRD_BIRD  CALICO_BIRD_BIRD6  CALICO_BIRD_BIRDC  CALICO_BIRD_BIRDC6
#                      a build of Calico's BIRD fork (test/lab/README.md): $CNS_CALICO_BIRD when set, else
#                      $CNS_CACHE_DIR/calico-bird when that directory exists, else none (CALICO_BIRD_DIR empty)
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
if [ -n "${CNS_CALICO_BIRD:-}" ]; then
	CALICO_BIRD_DIR=$CNS_CALICO_BIRD
elif [ -z "${CALICO_BIRD_DIR:-}" ] && [ -d "$CNS_CACHE_DIR/calico-bird" ]; then
	CALICO_BIRD_DIR=$CNS_CACHE_DIR/calico-bird
fi
CALICO_BIRD_DIR=${CALICO_BIRD_DIR:-}
CALICO_BIRD_BIRD=${CALICO_BIRD_BIRD:-${CALICO_BIRD_DIR:-/nonexistent/calico-bird}/sbin/bird}
CALICO_BIRD_BIRD6=${CALICO_BIRD_BIRD6:-${CALICO_BIRD_DIR:-/nonexistent/calico-bird}/sbin/bird6}
CALICO_BIRD_BIRDC=${CALICO_BIRD_BIRDC:-${CALICO_BIRD_DIR:-/nonexistent/calico-bird}/sbin/birdcl}
CALICO_BIRD_BIRDC6=${CALICO_BIRD_BIRDC6:-${CALICO_BIRD_DIR:-/nonexistent/calico-bird}/sbin/birdcl6}
GOBGPD=${GOBGPD:-$(command -v gobgpd || echo /usr/bin/gobgpd)}
GOBGP=${GOBGP:-$(command -v gobgp || echo /usr/bin/gobgp)}
export CNS_CACHE_DIR BIRD1_BIRD BIRD1_BIRD6 BIRD1_BIRDC BIRD1_BIRDC6 BIRD2_DIR BIRD2_BIRD BIRD2_BIRDC GOBGPD GOBGP
export CALICO_BIRD_DIR CALICO_BIRD_BIRD CALICO_BIRD_BIRD6 CALICO_BIRD_BIRDC CALICO_BIRD_BIRDC6

cns_lab_paths() { # print the paths, one per line, as KEY=value
	local k
	for k in BIRD1_BIRD BIRD1_BIRD6 BIRD1_BIRDC BIRD1_BIRDC6 BIRD2_BIRD BIRD2_BIRDC GOBGPD GOBGP \
		CALICO_BIRD_DIR CALICO_BIRD_BIRD CALICO_BIRD_BIRD6 CALICO_BIRD_BIRDC CALICO_BIRD_BIRDC6; do
		printf '%s=%s\n' "$k" "${!k}"
	done
}

# cns_calico_bird_check: say what is wrong with the Calico BIRD build in CALICO_BIRD_DIR (nothing printed and
# status 0 when it is usable): its four binaries must run and the daemon must name a "+bird" version.
cns_calico_bird_check() {
	local b v
	[ -n "$CALICO_BIRD_DIR" ] || { echo "no Calico BIRD build (set CNS_CALICO_BIRD, or build one into $CNS_CACHE_DIR/calico-bird: test/lab/README.md)"; return 1; }
	[ -d "$CALICO_BIRD_DIR" ] || { echo "Calico BIRD build $CALICO_BIRD_DIR: not a directory"; return 1; }
	for b in "$CALICO_BIRD_BIRD" "$CALICO_BIRD_BIRD6" "$CALICO_BIRD_BIRDC" "$CALICO_BIRD_BIRDC6"; do
		[ -x "$b" ] || { echo "Calico BIRD build $CALICO_BIRD_DIR: $b missing or not executable (want sbin/bird, sbin/bird6, sbin/birdcl, sbin/birdcl6)"; return 1; }
	done
	for b in "$CALICO_BIRD_BIRD" "$CALICO_BIRD_BIRD6"; do
		v=$("$b" --version 2>&1 | awk '{print $NF}')
		case $v in
		*+bird*) ;;
		*) echo "Calico BIRD build $CALICO_BIRD_DIR: $b --version says '$v', not Calico's fork (vX.Y.Z+birdvA.B.C)"; return 1 ;;
		esac
	done
}
