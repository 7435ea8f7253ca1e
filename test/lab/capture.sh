#!/usr/bin/env bash
# Captures raw BIRD control-socket replies (and what birdc prints for the same commands) from the lab, for
# BIRD 1.6, BIRD 2 and, when a build is there (paths.sh's CALICO_BIRD_DIR), Calico's BIRD fork, into
# internal/bird/testdata/captures/bird-<version>/, and writes the README there.
# Run as root (it brings labs up and down): `make capture` or `sudo test/lab/capture.sh [--out DIR]
# [--bird '1 2 calico']`.
#
# Raw files (<file>.txt) are the bytes the socket sent after the command, up to and including the final
# "DDDD " line; greetings are saved separately (greeting*.txt). <file>.birdc.txt is `birdc -s SOCKET CMD`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$root/internal/bird/testdata/captures
# shellcheck source=paths.sh
. "$here/paths.sh"
versions="1 2"
if cns_calico_bird_check >/dev/null; then versions="1 2 calico"; fi
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	--bird) versions=$2; shift 2 ;;
	*) echo "capture: unknown argument '$1' (usage: capture.sh [--out DIR] [--bird '1 2 calico'])" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "capture: must run as root (it builds labs): sudo $0" >&2; exit 1; }

lab=$here/lab.sh
cap=$(mktemp -d)/birdcapture
trap 'for v in $versions; do "$lab" down --name cnscap$v >/dev/null 2>&1 || true; done; rm -rf "$(dirname "$cap")"' EXIT
(cd "$root" && go build -o "$cap" ./test/lab/birdcapture)

readme_rows=()
log() { echo "capture: $*" >&2; }

# grab SOCKET BIRDC FILE STATE CMD: raw reply into $dir/FILE.txt, birdc's view into $dir/FILE.birdc.txt.
grab() {
	local sock=$1 birdc=$2 file=$3 state=$4 cmd=$5
	"$cap" -socket "$sock" -timeout 60s -out "$dir/$file.txt" "$cmd"
	# shellcheck disable=SC2086 # birdc takes the command as separate words
	"$birdc" -s "$sock" $cmd >"$dir/$file.birdc.txt" 2>&1 || true
	readme_rows+=("| \`$file.txt\` | \`$cmd\` | $(basename "$sock") | $state |")
}
greeting() { # SOCKET FILE STATE
	"$cap" -socket "$1" -greeting "$dir/$2.txt" -out /dev/null 'show status'
	readme_rows+=("| \`$2.txt\` | (greeting, sent on connect) | $(basename "$1") | $3 |")
}

# family_set PREFIX SOCKET BIRDC STATE SUFFIX: the standard commands on one socket.
family_set() {
	local p=$1 sock=$2 birdc=$3 state=$4 s=${5:-}
	greeting "$sock" "${p}greeting$s" "$state"
	grab "$sock" "$birdc" "${p}show-status$s" "$state" "show status"
	grab "$sock" "$birdc" "${p}show-protocols$s" "$state" "show protocols"
	grab "$sock" "$birdc" "${p}show-protocols-all$s" "$state" "show protocols all"
	grab "$sock" "$birdc" "${p}show-route$s" "$state" "show route"
	grab "$sock" "$birdc" "${p}show-route-all$s" "$state" "show route all"
}

# not_established SOCKET BIRDC PROTOCOL: PROTOCOL is no longer Established.
not_established() { "$2" -s "$1" show protocols "$3" 2>/dev/null | grep -q "^$3 " && ! "$2" -s "$1" show protocols "$3" | grep -q Established; }
# failing SOCKET BIRDC PROTOCOL: PROTOCOL shows its last error ("Socket: ...") in the info column.
failing() { "$2" -s "$1" show protocols "$3" 2>/dev/null | grep -q "^$3 .*Socket:"; }
# settled: node1's never-answering peers have failed a connect at least once, so their info is not empty.
settled() {
	poll 60 failing "$NODE1_SOCKET4" "$LAB_BIRDC" Node_10_99_0_253 && poll 60 failing "$NODE1_SOCKET6" "$LAB_BIRDC6" Node_fd00_99__fd ||
		{ log "Node_*_253/fd on node1 never showed a connect error within 60s"; exit 1; }
}
poll() { # SECONDS CMD...
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}

for v in $versions; do
	name=cnscap$v
	"$lab" up --name "$name" --bird "$v" --nodes 3 --routes 10 >&2
	# shellcheck disable=SC1090
	. "/run/$name/lab.env"
	dir=$out/bird-$LAB_BIRD_VERSION
	rm -rf "$dir"
	mkdir -p "$dir"
	log "BIRD $LAB_BIRD_VERSION ($LAB_FLAVOUR) into $dir"
	started=$(date -u +%Y-%m-%d)
	settled
	st="**normal**"
	if [ "$LAB_BIRD" = 1 ]; then
		family_set v4- "$NODE1_SOCKET4" "$LAB_BIRDC" "$st"
		family_set v6- "$NODE1_SOCKET6" "$LAB_BIRDC6" "$st"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" v4-show-route-count "$st" "show route count"
		grab "$NODE1_SOCKET6" "$LAB_BIRDC6" v6-show-route-count "$st" "show route count"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" v4-show-protocols-all-mesh "$st" "show protocols all Mesh_10_99_0_2"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" v4-error-no-protocol "$st" "show protocols nosuch"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" v4-error-syntax "$st" "show route for 10.99.0.1.1"
	else
		family_set "" "$NODE1_SOCKET4" "$LAB_BIRDC" "$st"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" show-route-table-master4 "$st" "show route table master4"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" show-route-table-master6 "$st" "show route table master6"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" show-route-all-table-master4 "$st" "show route all table master4"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" show-route-all-table-master6 "$st" "show route all table master6"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" show-route-count "$st" "show route count"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" show-protocols-all-mesh "$st" "show protocols all Mesh_10_99_0_2"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" error-no-protocol "$st" "show protocols nosuch"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" error-syntax "$st" "show route for 10.99.0.1.1"
	fi

	# Fault: node3's daemons killed; node1 still answers, its Mesh peers to node3 are down.
	for pidf in /run/"$name"/node3/*.pid; do kill -KILL "$(cat "$pidf")"; done
	poll 60 not_established "$NODE1_SOCKET4" "$LAB_BIRDC" Mesh_10_99_0_3 || { log "Mesh_10_99_0_3 still Established on node1 after 60s"; exit 1; }
	poll 60 not_established "$NODE1_SOCKET6" "$LAB_BIRDC6" Mesh_fd00_99__3 || { log "Mesh_fd00_99__3 still Established on node1 after 60s"; exit 1; }
	st="**peer-down** (node3 killed)"
	if [ "$LAB_BIRD" = 1 ]; then
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" v4-show-protocols-peer-down "$st" "show protocols"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" v4-show-protocols-all-peer-down "$st" "show protocols all"
		grab "$NODE1_SOCKET6" "$LAB_BIRDC6" v6-show-protocols-all-peer-down "$st" "show protocols all"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" v4-show-route-all-peer-down "$st" "show route all"
	else
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" show-protocols-peer-down "$st" "show protocols"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" show-protocols-all-peer-down "$st" "show protocols all"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" show-route-all-peer-down "$st" "show route all"
	fi

	# BIRD's default time format, which is what Calico runs with (its templates set none).
	"$lab" up --name "$name" --bird "$v" --nodes 3 --routes 10 --timeformat default >&2
	settled
	st="**timeformat-default**"
	if [ "$LAB_BIRD" = 1 ]; then
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" v4-show-status-timeformat-default "$st" "show status"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" v4-show-protocols-timeformat-default "$st" "show protocols"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" v4-show-protocols-all-timeformat-default "$st" "show protocols all"
		grab "$NODE1_SOCKET6" "$LAB_BIRDC6" v6-show-route-all-timeformat-default "$st" "show route all"
	else
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" show-status-timeformat-default "$st" "show status"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" show-protocols-timeformat-default "$st" "show protocols"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" show-protocols-all-timeformat-default "$st" "show protocols all"
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" show-route-all-timeformat-default "$st" "show route all"
	fi

	# About 1000 routes (2 nodes, the ToR announces 1000 per family).
	"$lab" up --name "$name" --bird "$v" --nodes 2 --routes 1000 >&2
	settled
	st="**routes-1000** (2 nodes)"
	if [ "$LAB_BIRD" = 1 ]; then
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" v4-show-route-1000 "$st" "show route"
		grab "$NODE1_SOCKET6" "$LAB_BIRDC6" v6-show-route-1000 "$st" "show route"
	else
		grab "$NODE1_SOCKET4" "$LAB_BIRDC" show-route-1000 "$st" "show route"
	fi
	"$lab" down --name "$name" >&2

	{
		echo "## BIRD $LAB_BIRD_VERSION (\`bird-$LAB_BIRD_VERSION/\`)"
		echo
		if [ "$LAB_FLAVOUR" = calico ]; then
			echo "Calico's BIRD fork (\`projectcalico/bird\`, branch \`feature-ipinip\`, \`git describe\`:"
			echo "\`$(cat "$CALICO_BIRD_DIR/VERSION" 2>/dev/null || echo unknown)\`), built as \`test/lab/README.md\` says;"
			echo "the lab's BGP template keeps Calico's \`connect delay time 2; connect retry time 5;\`."
		fi
		echo "Captured $started with \`sudo test/lab/capture.sh --bird $v\` (clients: \`$(basename "$LAB_BIRDC")\`, \`$(basename "$LAB_BIRDC6")\`)."
		echo
		echo "| file | command | socket (node1) | lab state |"
		echo "| --- | --- | --- | --- |"
		printf '%s\n' "${readme_rows[@]}"
		echo
	} >"$dir/CAPTURES.md"
	readme_rows=()
done

{
	cat "$here/captures-README.head.md"
	for f in "$out"/bird-*/CAPTURES.md; do cat "$f"; done
} >"$out/README.md"
log "done: $out"
