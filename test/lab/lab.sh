#!/usr/bin/env bash
# A real-BIRD lab in network namespaces, configured the way Calico's confd templates configure BIRD.
# Run as root. See test/lab/README.md for the topology, the addresses and what each peer demonstrates.
#
#   lab.sh up     [--name cnslab] [--nodes 3] [--bird 1|2|calico] [--routes K] [--routes6 K6]
#                 [--timeformat iso|default] [--timeout SECONDS]
#   lab.sh down   [--name cnslab]
#   lab.sh status [--name cnslab]
#
# `up` tears down a lab of the same name first, so it is idempotent; it returns 0 only once every node's
# mesh and ToR sessions are Established and every node imported the ToR's K (and K6) routes, otherwise it
# prints what is missing and exits 1 (the lab is left up for inspection; `down` removes it).
# Machine-readable description: /run/<name>/lab.env (KEY=value lines) and /run/<name>/lab.json.
# --bird calico runs the nodes on a build of Calico's BIRD fork (CALICO_BIRD_DIR in paths.sh; README.md):
# BIRD 1.6's two daemons and configuration, with Calico's own BGP timers.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=paths.sh
. "$here/paths.sh"

name=cnslab
nodes=3
birdv=1
routes=10
routes6=
timeformat=iso
timeout=90

usage() { sed -n '2,13s/^# \{0,1\}//p' "$0" >&2; exit 2; }
die() { echo "lab: $*" >&2; exit 1; }
log() { echo "lab[$name]: $*" >&2; }

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
while [ $# -gt 0 ]; do
	case $1 in
	--name) name=$2; shift 2 ;;
	--nodes) nodes=$2; shift 2 ;;
	--bird) birdv=$2; shift 2 ;;
	--routes) routes=$2; shift 2 ;;
	--routes6) routes6=$2; shift 2 ;;
	--timeformat) timeformat=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	-h|--help) usage ;;
	*) die "unknown argument '$1' (try --help)" ;;
	esac
done
routes6=${routes6:-$routes}
# flavour: which build runs the nodes; birdv stays the daemon layout and reply dialect (calico: 1).
flavour=stock
if [ "$birdv" = calico ]; then flavour=calico birdv=1; fi
# The name prefixes namespaces as "<name>-…": no dash inside it, so one lab's prefix never matches another's.
[[ $name =~ ^[a-z][a-z0-9]{0,11}$ ]] || die "--name '$name': use 1-12 characters [a-z0-9], starting with a letter"
[[ $nodes =~ ^[0-9]+$ ]] && [ "$nodes" -ge 1 ] && [ "$nodes" -le 200 ] || die "--nodes '$nodes': 1..200"
[[ $birdv =~ ^[12]$ ]] || die "--bird '$birdv': 1 (BIRD 1.6, bird+bird6), 2 (BIRD 2.x, one daemon) or calico (Calico's BIRD fork, bird+bird6)"
[[ $routes =~ ^[0-9]+$ ]] && [ "$routes" -le 4000000 ] || die "--routes '$routes': 0..4000000"
[[ $routes6 =~ ^[0-9]+$ ]] && [ "$routes6" -le 4000000 ] || die "--routes6 '$routes6': 0..4000000"
[[ $timeformat =~ ^(iso|default)$ ]] || die "--timeformat '$timeformat': iso (full date+time) or default (BIRD's, as Calico)"
[[ $timeout =~ ^[0-9]+$ ]] || die "--timeout '$timeout': seconds"

run=/run/$name
ns_br=$name-br
ns_tor=$name-tor
ns_peer=$name-peer
node_ns() { echo "$name-node$1"; }
# Addresses live only inside the lab's namespaces; every lab uses the same ones (namespaces isolate them),
# so a BIRD 1.6 lab and a BIRD 2 lab have identical topology and protocol names.
ip4() { echo "10.99.0.$1"; }
ip6() { printf 'fd00:99::%x\n' "$1"; }
tor4=10.99.0.254 tor6=fd00:99::fe
dead4=10.99.0.253 dead6=fd00:99::fd # configured peers nobody answers for
peer4=10.99.0.251 peer6=fd00:99::fb # a node-specific peer that answers: gobgpd
torll=fe80::99:fe # the ToR's link-local address: a second, link-local IPv6 session (Node_fe80__99_fe)
llof() { printf 'fe80::99:%x\n' "$1"; } # node i's link-local address (besides the kernel's EUI-64 one)
peer_port=1790 # ... on a custom port, so its protocols are Node_<ip>_port_1790 as Calico names them
off4=10.99.0.252 off6=fd00:99::fc   # configured peers that are administratively disabled
node_as=64512 tor_as=64513 peer_as=64514
pool4=10.99.64.0/18 pool6=fd00:99:1::/48
bulk4=10.128.0.0/9 bulk6=fd00:100::/32 # the ToR's --routes come from these; kept out of the kernel
protoname() { local s=${1//./_}; echo "${s//:/_}"; }
# BGP connect timers of the nodes' template. Calico's confd template says "connect delay time 2; connect
# retry time 5;": the calico flavour keeps them; the stock flavours use shorter ones so labs come up sooner.
if [ "$flavour" = calico ]; then connect_delay=2 connect_retry=5; else connect_delay=1 connect_retry=3; fi
block4() { echo "10.99.$((64 + $1)).$2/26"; }             # node i's /26 blocks: offset 0, 64, 128
block6() { printf 'fd00:99:1:%x::%x/122\n' "$1" "$2"; } # node i's /122 blocks: offset 0, 0x40, 0x80

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces): sudo $0 $cmd ..."; }

lab_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$name-" || true; }

# wait_for DESCRIPTION DEADLINE_SECONDS CMD...: poll CMD every 0.2 s until it succeeds or the deadline passes.
wait_for() {
	local what=$1 secs=$2
	shift 2
	local end=$((SECONDS + secs))
	until "$@"; do
		if [ "$SECONDS" -ge "$end" ]; then
			return 1
		fi
		sleep 0.2
	done
	log "$what: ok"
}

down() {
	local ns pid pids end
	for ns in $(lab_namespaces); do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086
			kill -TERM $pids 2>/dev/null || true
		fi
	done
	end=$((SECONDS + 10))
	for ns in $(lab_namespaces); do
		while pids=$(ip netns pids "$ns" 2>/dev/null) && [ -n "$pids" ]; do
			if [ "$SECONDS" -ge "$end" ]; then
				# shellcheck disable=SC2086
				kill -KILL $pids 2>/dev/null || true
			fi
			sleep 0.1
		done
		ip netns del "$ns"
	done
	# Processes started from our pid files but somehow outside the namespaces (should not happen).
	if [ -d "$run" ]; then
		for pid in $(cat "$run"/*/*.pid 2>/dev/null || true); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		rm -rf "$run"
	fi
	[ -z "$(lab_namespaces)" ] || die "down: namespaces left: $(lab_namespaces | tr '\n' ' ')"
}

# --- configuration writers -------------------------------------------------------------------------------

timeformat_line() {
	if [ "$timeformat" = iso ]; then
		# Not in Calico's templates (they keep BIRD's default: time of day only for recent events). Full
		# date+time makes "since" unambiguous in both versions; --timeformat default reproduces Calico.
		echo 'timeformat protocol iso long;'
		echo 'timeformat route iso long;'
	else
		echo '# timeformat: BIRD default, as in Calico'
	fi
}

# bird1_conf I FAMILY(4|6): BIRD 1.6 config for node I, in the shape of Calico's bird.cfg/bird6.cfg +
# bird_aggr.cfg + bird_ipam.cfg templates (one file here instead of includes).
bird1_conf() {
	local i=$1 fam=$2 j me peer pool bulk tor dead off gpeer
	if [ "$fam" = 4 ]; then
		me=$(ip4 "$i") pool=$pool4 bulk=$bulk4 tor=$tor4 dead=$dead4 off=$off4 gpeer=$peer4
	else
		me=$(ip6 "$i") pool=$pool6 bulk=$bulk6 tor=$tor6 dead=$dead6 off=$off6 gpeer=$peer6
	fi
	cat <<EOF
# Generated by test/lab/lab.sh for $name node$i ($([ "$flavour" = calico ] && echo "Calico's BIRD fork" || echo "BIRD 1.6"), IPv$fam), shaped like Calico's confd templates.
$(timeformat_line)
log "$run/node$i/bird$([ "$fam" = 6 ] && echo 6).log" all;

# --- bird${fam/4/}_aggr.cfg: this host's IPAM blocks (Calico: blackhole per block) ---
protocol static {
   # IP blocks for this host.
EOF
	if [ "$fam" = 4 ]; then
		cat <<EOF
   route $(block4 "$i" 0) blackhole;
   # Static routes (a released block, an administratively prohibited one).
   route $(block4 "$i" 64) unreachable;
   route $(block4 "$i" 128) prohibit;
   # ECMP: two next hops.
   route 10.99.200.0/24 multipath via $tor4 via $dead4;
EOF
	else
		cat <<EOF
   route $(block6 "$i" 0) blackhole;
   # Static routes (a released block, an administratively prohibited one).
   route $(block6 "$i" 64) unreachable;
   route $(block6 "$i" 128) prohibit;
   # ECMP: two next hops.
   route fd00:99:200::/64 multipath via $tor6 via $dead6;
EOF
	fi
	local blk
	if [ "$fam" = 4 ]; then blk=$(block4 "$i" 0); else blk=$(block6 "$i" 0); fi
	cat <<EOF
}

# Aggregation of routes on this host; export the block, nothing beneath it.
function calico_aggr ()
{
      # Block $blk is confirmed
      if ( net = $blk ) then { accept; }
      if ( net ~ $blk ) then { reject; }
}

# --- bird${fam/4/}_ipam.cfg ---
filter calico_export_to_bgp_peers {
  calico_aggr();
  if ( net ~ $pool ) then {
    accept;
  }
  reject;
}

filter calico_kernel_programming {
  # Don't program the ToR's bulk routes (--routes) into the kernel (Calico: rejectcidrs).
  if ( net ~ $bulk ) then { reject; }
  accept;
}

# --- bird${fam/4/}.cfg ---
router id $(ip4 "$i");

# Configure synchronization between routing tables and kernel.
protocol kernel {
  learn;             # Learn all alien routes from the kernel
  persist;           # Don't remove routes on bird shutdown
  scan time 2;       # Scan kernel routing table every 2 seconds
  import all;
  export filter calico_kernel_programming; # Default is export none
  graceful restart;
  merge paths on;    # Allow export multipath routes (ECMP)
}

# Watch interface up/down events.
protocol device {
  debug { states };
  scan time 2;    # Scan interfaces every 2 seconds
}

protocol direct {
  debug { states };
  interface -"cali*", -"kube-ipvs*", "*"; # Exclude cali* and kube-ipvs* but include everything else.
}

# Template for all BGP clients
template bgp bgp_template {
  debug { states };
  description "Connection to BGP peer";
  local as $node_as;
  multihop;
  gateway recursive; # This should be the default, but just in case.
  import all;        # Import all routes, since we don't know what the upstream
                     # topology is and therefore have to trust the ToR/RR.
  export filter calico_export_to_bgp_peers;  # Only want to export routes for workloads.
  add paths on;
  graceful restart;  # See comment in kernel section about graceful restart.
  connect delay time $connect_delay;
  connect retry time $connect_retry;
  error wait time 5,30;
}

# ------------- Node-to-node mesh -------------
EOF
	for ((j = 1; j <= nodes; j++)); do
		if [ "$fam" = 4 ]; then peer=$(ip4 "$j"); else peer=$(ip6 "$j"); fi
		if [ "$j" -eq "$i" ]; then
			echo "# Skipping ourselves ($me)"
			continue
		fi
		echo "protocol bgp Mesh_$(protoname "$peer") from bgp_template {"
		echo "  neighbor $peer as $node_as;"
		echo "  source address $me;  # The local address we use for the TCP connection"
		# Calico makes the mesh unidirectional by comparing the addresses as strings.
		if [[ $peer > $me ]]; then echo "  passive on; # Mesh is unidirectional, peer will connect to us."; fi
		echo "  graceful restart time 120;"
		echo "}"
	done
	cat <<EOF

# ------------- Global peers -------------
# For peer /global/peer_v$fam/$tor (the ToR)
protocol bgp Global_$(protoname "$tor") from bgp_template {
  neighbor $tor as $tor_as;
  source address $me;  # The local address we use for the TCP connection
}

# ------------- Node-specific peers -------------
# For peer /host/node$i/peer_v$fam/$gpeer (gobgpd, eBGP, custom port)
protocol bgp Node_$(protoname "$gpeer")_port_$peer_port from bgp_template {
  neighbor $gpeer port $peer_port as $peer_as;
  source address $me;
}
$(if [ "$fam" = 6 ]; then bird_ll_peer; fi)
# For peer /host/node$i/peer_v$fam/$dead (configured, but nothing answers at that address)
protocol bgp Node_$(protoname "$dead") from bgp_template {
  neighbor $dead as $node_as;
  source address $me;
}
# For peer /host/node$i/peer_v$fam/$off (administratively disabled)
protocol bgp Node_$(protoname "$off") from bgp_template {
  disabled;
  neighbor $off as $node_as;
  source address $me;
}
EOF
}

# bird2_conf I: BIRD 2 config for node I: the union of bird1_conf 4 and 6, one daemon, a channel per family.
bird2_conf() {
	local i=$1 j peer fam me
	cat <<EOF
# Generated by test/lab/lab.sh for $name node$i (BIRD 2, both families): Calico's bird.cfg + bird6.cfg
# templates translated to BIRD 2 (same protocol names; kernel/static per family).
$(timeformat_line)
log "$run/node$i/bird.log" all;
router id $(ip4 "$i");

protocol static {
   ipv4;
   # IP blocks for this host.
   route $(block4 "$i" 0) blackhole;
   # Static routes (a released block, an administratively prohibited one).
   route $(block4 "$i" 64) unreachable;
   route $(block4 "$i" 128) prohibit;
   # ECMP: two next hops.
   route 10.99.200.0/24 via $tor4 via $dead4;
}
protocol static {
   ipv6;
   route $(block6 "$i" 0) blackhole;
   route $(block6 "$i" 64) unreachable;
   route $(block6 "$i" 128) prohibit;
   route fd00:99:200::/64 via $tor6 via $dead6;
}

function calico_aggr ()
{
      if ( net = $(block4 "$i" 0) ) then { accept; }
      if ( net ~ $(block4 "$i" 0) ) then { reject; }
}
function calico_aggr6 ()
{
      if ( net = $(block6 "$i" 0) ) then { accept; }
      if ( net ~ $(block6 "$i" 0) ) then { reject; }
}
filter calico_export_to_bgp_peers {
  calico_aggr();
  if ( net ~ $pool4 ) then { accept; }
  reject;
}
filter calico_export_to_bgp_peers6 {
  calico_aggr6();
  if ( net ~ $pool6 ) then { accept; }
  reject;
}
filter calico_kernel_programming {
  if ( net ~ $bulk4 ) then { reject; }
  accept;
}
filter calico_kernel_programming6 {
  if ( net ~ $bulk6 ) then { reject; }
  accept;
}

protocol kernel {
  ipv4 { import all; export filter calico_kernel_programming; };
  learn; persist; scan time 2; graceful restart; merge paths on;
}
protocol kernel {
  ipv6 { import all; export filter calico_kernel_programming6; };
  learn; persist; scan time 2; graceful restart; merge paths on;
}
protocol device {
  debug { states };
  scan time 2;
}
protocol direct {
  debug { states };
  ipv4;
  ipv6;
  interface -"cali*", -"kube-ipvs*", "*";
}

template bgp bgp_template {
  debug { states };
  description "Connection to BGP peer";
  local as $node_as;
  multihop;
  graceful restart;
  connect delay time $connect_delay;
  connect retry time $connect_retry;
  error wait time 5,30;
}

# ------------- Node-to-node mesh -------------
EOF
	for fam in 4 6; do
		if [ "$fam" = 4 ]; then me=$(ip4 "$i"); else me=$(ip6 "$i"); fi
		for ((j = 1; j <= nodes; j++)); do
			[ "$j" -ne "$i" ] || continue
			if [ "$fam" = 4 ]; then peer=$(ip4 "$j"); else peer=$(ip6 "$j"); fi
			echo "protocol bgp Mesh_$(protoname "$peer") from bgp_template {"
			echo "  neighbor $peer as $node_as;"
			echo "  source address $me;"
			if [[ $peer > $me ]]; then echo "  passive on;"; fi
			echo "  graceful restart time 120;"
			bird2_channel "$fam"
			echo "}"
		done
	done
	echo
	echo "# ------------- Global peers -------------"
	for fam in 4 6; do
		local tor dead off gpeer
		if [ "$fam" = 4 ]; then me=$(ip4 "$i") tor=$tor4 dead=$dead4 off=$off4 gpeer=$peer4; else me=$(ip6 "$i") tor=$tor6 dead=$dead6 off=$off6 gpeer=$peer6; fi
		echo "protocol bgp Global_$(protoname "$tor") from bgp_template {"
		echo "  neighbor $tor as $tor_as;"
		echo "  source address $me;"
		bird2_channel "$fam"
		echo "}"
		echo "protocol bgp Node_$(protoname "$gpeer")_port_$peer_port from bgp_template {"
		echo "  neighbor $gpeer port $peer_port as $peer_as;"
		echo "  source address $me;"
		bird2_channel "$fam"
		echo "}"
		if [ "$fam" = 6 ]; then
			bird_ll_peer | sed '$d'
			bird2_channel 6
			echo "}"
		fi
		echo "protocol bgp Node_$(protoname "$dead") from bgp_template {"
		echo "  neighbor $dead as $node_as;"
		echo "  source address $me;"
		bird2_channel "$fam"
		echo "}"
		echo "protocol bgp Node_$(protoname "$off") from bgp_template {"
		echo "  disabled;"
		echo "  neighbor $off as $node_as;"
		echo "  source address $me;"
		bird2_channel "$fam"
		echo "}"
	done
}
# bird_ll_peer: node-specific IPv6 peer over link-local (the ToR's fe80::99:fe on eth0); the neighbor
# address carries a zone. The last line is the closing brace (bird2_conf inserts its channel before it).
bird_ll_peer() {
	echo "# For peer /host/node$i/peer_v6/$torll (the ToR again, over link-local)"
	echo "protocol bgp Node_$(protoname "$torll") from bgp_template {"
	echo "  neighbor $torll % 'eth0' as $tor_as;"
	echo "  source address $(llof "$i");"
	echo "  direct;  # link-local: not multihop"
	echo "}"
}

bird2_channel() {
	if [ "$1" = 4 ]; then
		echo "  ipv4 { gateway recursive; import all; export filter calico_export_to_bgp_peers; add paths on; };"
	else
		echo "  ipv6 { gateway recursive; import all; export filter calico_export_to_bgp_peers6; add paths on; };"
	fi
}

# tor_conf: the ToR is one BIRD 2 daemon (both families) announcing --routes/--routes6 static routes to
# every node over eBGP (AS $tor_as), one session per node and family.
tor_conf() {
	local i
	cat <<EOF
# Generated by test/lab/lab.sh: the ToR of lab $name (BIRD 2).
log "$run/tor/bird.log" { warning, error, fatal, bug };
router id $tor4;
protocol device { scan time 10; }
protocol static bulk4 {
  ipv4;
  include "$run/tor/routes4.conf";
}
protocol static bulk6 {
  ipv6;
  include "$run/tor/routes6.conf";
}
# The ToR also announces the nodes' ECMP prefixes: each node then holds a BGP route it does not select.
protocol static shadow4 { ipv4; route 10.99.200.0/24 blackhole; }
protocol static shadow6 { ipv6; route fd00:99:200::/64 blackhole; }
template bgp node {
  local as $tor_as;
  connect delay time 1;
  connect retry time 3;
  error wait time 5,30;
}
EOF
	for ((i = 1; i <= nodes; i++)); do
		echo "protocol bgp node${i}_4 from node { local $tor4 as $tor_as; neighbor $(ip4 "$i") as $node_as; ipv4 { import all; export where source = RTS_STATIC; }; }"
		echo "protocol bgp node${i}_ll from node { neighbor $(llof "$i") % 'eth0' as $node_as; source address $torll; ipv6 { import none; export none; }; }"
		echo "protocol bgp node${i}_6 from node { local $tor6 as $tor_as; neighbor $(ip6 "$i") as $node_as; ipv6 { import all; export where source = RTS_STATIC; }; }"
	done
}

# peer_conf: gobgpd, a node-specific BGP peer (eBGP, AS $peer_as) of every node, both families.
peer_conf() {
	local i
	printf '# Generated by test/lab/lab.sh: gobgpd, node-specific peer of lab %s.\n' "$name"
	printf '[global.config]\n  as = %s\n  router-id = "%s"\n  port = %s\n  local-address-list = ["%s", "%s"]\n' "$peer_as" "$peer4" "$peer_port" "$peer4" "$peer6"
	for ((i = 1; i <= nodes; i++)); do
		printf '[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "%s"\n    peer-as = %s\n  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = "ipv4-unicast"\n' "$(ip4 "$i")" "$node_as"
		printf '[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "%s"\n    peer-as = %s\n  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = "ipv6-unicast"\n' "$(ip6 "$i")" "$node_as"
	done
}

start_gobgpd() {
	[ -x "$GOBGPD" ] && [ -x "$GOBGP" ] || die "missing $GOBGPD or $GOBGP: run hack/prereqs.sh (as root)"
	mkdir -p "$run/peer"
	peer_conf >"$run/peer/gobgpd.toml"
	"$GOBGPD" -d -f "$run/peer/gobgpd.toml" >/dev/null || die "gobgpd config check failed: $run/peer/gobgpd.toml"
	# gobgpd stays in the foreground: detach it; its API listens on the peer namespace's loopback only.
	ip netns exec "$ns_peer" setsid "$GOBGPD" -f "$run/peer/gobgpd.toml" -p -l warn \
		--api-hosts 127.0.0.1:50051 --pprof-disable </dev/null >"$run/peer/gobgpd.log" 2>&1 &
	echo $! >"$run/peer/gobgpd.pid"
	wait_for "gobgpd API" 20 ip netns exec "$ns_peer" "$GOBGP" -u 127.0.0.1 -p 50051 global >/dev/null 2>&1 ||
		die "gobgpd did not answer on its API within 20s (log: $run/peer/gobgpd.log)"
	ip netns exec "$ns_peer" "$GOBGP" -u 127.0.0.1 -p 50051 global rib add -a ipv4 10.99.210.0/24 >/dev/null
	ip netns exec "$ns_peer" "$GOBGP" -u 127.0.0.1 -p 50051 global rib add -a ipv6 fd00:99:210::/64 >/dev/null
}

# Route j of the ToR: IPv4 /32s counting up from 10.128.0.0, IPv6 /64s counting up from fd00:100::/64.
gen_routes() {
	awk -v n="$routes" 'BEGIN { for (j = 0; j < n; j++) printf "route 10.%d.%d.%d/32 blackhole;\n", 128 + int(j / 65536), int(j / 256) % 256, j % 256 }' >"$run/tor/routes4.conf"
	awk -v n="$routes6" 'BEGIN { for (j = 0; j < n; j++) printf "route fd00:100:%x:%x::/64 blackhole;\n", int(j / 65536), j % 65536 }' >"$run/tor/routes6.conf"
}

# --- up ----------------------------------------------------------------------------------------------------

start_bird() { # NS DAEMON CONF SOCKET PIDFILE
	local ns=$1 daemon=$2 conf=$3 sock=$4 pidf=$5
	"$daemon" -p -c "$conf" || die "config check failed: $daemon -p -c $conf"
	ip netns exec "$ns" "$daemon" -c "$conf" -s "$sock" -P "$pidf" || die "start failed: $daemon -c $conf (in $ns)"
}

# established SOCKET BIRDC: every Mesh_/Global_ protocol on that socket is Established.
established() {
	local out
	out=$("$2" -s "$1" show protocols 2>/dev/null) || return 1
	# at least one, and none that is not Established
	echo "$out" | grep -qE "$up_re" || return 1
	! echo "$out" | grep -E "$up_re" | grep -vq 'Established'
}
# Protocols that must be Established once the lab is up: the mesh, the ToR, the gobgpd node peer.
up_re="^(Mesh_|Global_|Node_$(protoname "$peer4")_port_$peer_port |Node_$(protoname "$peer6")_port_$peer_port |Node_$(protoname "$torll") )"

# imported SOCKET BIRDC PROTOCOL MIN: PROTOCOL imported at least MIN routes.
imported() {
	local n
	n=$("$2" -s "$1" show protocols all "$3" 2>/dev/null | sed -n 's/^ *Routes: *\([0-9]*\) imported.*/\1/p' | head -n 1)
	[ -n "$n" ] && [ "$n" -ge "$4" ]
}

up() {
	local i ns sock4 sock6 birdc birdc6 bird_version daemon daemon6 problem
	if [ "$flavour" = calico ]; then
		problem=$(cns_calico_bird_check) || die "--bird calico: $problem"
		daemon=$CALICO_BIRD_BIRD daemon6=$CALICO_BIRD_BIRD6
		birdc=$CALICO_BIRD_BIRDC birdc6=$CALICO_BIRD_BIRDC6
	elif [ "$birdv" = 1 ]; then
		for b in "$BIRD1_BIRD" "$BIRD1_BIRD6" "$BIRD1_BIRDC" "$BIRD1_BIRDC6"; do [ -x "$b" ] || die "missing $b: run hack/prereqs.sh (as root)"; done
		daemon=$BIRD1_BIRD daemon6=$BIRD1_BIRD6
		birdc=$BIRD1_BIRDC birdc6=$BIRD1_BIRDC6
	else
		daemon=$BIRD2_BIRD daemon6=$BIRD2_BIRD
		birdc=$BIRD2_BIRDC birdc6=$BIRD2_BIRDC
	fi
	bird_version=$("$daemon" --version 2>&1 | awk '{print $NF}')
	for b in "$BIRD2_BIRD" "$BIRD2_BIRDC"; do [ -x "$b" ] || die "missing $b (BIRD 2 runs the ToR): run hack/prereqs.sh (as root)"; done

	if [ -n "$(lab_namespaces)" ] || [ -d "$run" ]; then
		log "a lab named $name exists: tearing it down first"
		down
	fi
	mkdir -p "$run/tor"

	# Namespaces: a bridge, the ToR, the nodes. Every link is created inside them, none in the host's.
	ip netns add "$ns_br"
	ip -n "$ns_br" link set lo up
	ip -n "$ns_br" link add br0 type bridge stp_state 0 mcast_snooping 0
	ip -n "$ns_br" link set br0 up
	attach() { # NS PORT IP4 IP6 LINKLOCAL6: one veth from the bridge into NS as eth0
		ip netns add "$1"
		ip -n "$1" link set lo up
		ip -n "$ns_br" link add "$2" type veth peer name eth0 netns "$1"
		ip -n "$ns_br" link set "$2" master br0 up
		ip -n "$1" addr add "$3/24" dev eth0
		ip -n "$1" addr add "$4/64" dev eth0 nodad
		# Only the link-local address we choose: with the kernel's EUI-64 one beside it, which one a
		# link-local BGP session uses as its source is a race.
		ip -n "$1" link set eth0 addrgenmode none
		ip -n "$1" addr add "$5/64" dev eth0 nodad
		ip -n "$1" link set eth0 up
	}
	attach "$ns_tor" tor "$tor4" "$tor6" "$torll"
	attach "$ns_peer" peer "$peer4" "$peer6" fe80::99:fb
	for ((i = 1; i <= nodes; i++)); do
		attach "$(node_ns "$i")" "n$i" "$(ip4 "$i")" "$(ip6 "$i")" "$(llof "$i")"
		# A route someone else put in the kernel: BIRD's kernel protocol learns it (source Kernel).
		ip -n "$(node_ns "$i")" route add 10.99.250.0/24 via "$tor4"
		ip -n "$(node_ns "$i")" -6 route add fd00:99:250::/64 via "$tor6"
	done

	gen_routes
	tor_conf >"$run/tor/bird.conf"
	start_bird "$ns_tor" "$BIRD2_BIRD" "$run/tor/bird.conf" "$run/tor/bird.ctl" "$run/tor/bird.pid"
	start_gobgpd

	for ((i = 1; i <= nodes; i++)); do
		ns=$(node_ns "$i")
		mkdir -p "$run/node$i"
		if [ "$birdv" = 1 ]; then
			bird1_conf "$i" 4 >"$run/node$i/bird.conf"
			bird1_conf "$i" 6 >"$run/node$i/bird6.conf"
			start_bird "$ns" "$daemon" "$run/node$i/bird.conf" "$run/node$i/bird.ctl" "$run/node$i/bird.pid"
			start_bird "$ns" "$daemon6" "$run/node$i/bird6.conf" "$run/node$i/bird6.ctl" "$run/node$i/bird6.pid"
		else
			bird2_conf "$i" >"$run/node$i/bird.conf"
			start_bird "$ns" "$daemon" "$run/node$i/bird.conf" "$run/node$i/bird.ctl" "$run/node$i/bird.pid"
		fi
	done

	write_env "$bird_version" "$birdc" "$birdc6" "$daemon" "$daemon6"

	# Wait (poll with a deadline) for every session, then for the ToR's routes.
	local end=$((SECONDS + timeout)) ok=true left
	for ((i = 1; i <= nodes; i++)); do
		sock4=$run/node$i/bird.ctl
		sock6=$run/node$i/bird6.ctl
		[ "$birdv" = 1 ] || sock6=$sock4
		local socks=("$sock4:$birdc")
		[ "$birdv" = 2 ] || socks+=("$sock6:$birdc6")
		for s in "${socks[@]}"; do
			IFS=: read -r sk bc <<<"$s"
			left=$((end - SECONDS)); [ "$left" -gt 0 ] || left=1
			if ! wait_for "node$i $(basename "$sk"): mesh and ToR Established" "$left" established "$sk" "$bc"; then
				log "node$i $(basename "$sk"): not all sessions Established after ${timeout}s:"
				"$bc" -s "$sk" show protocols | grep -E "$up_re" >&2 || true
				ok=false
			fi
		done
		left=$((end - SECONDS)); [ "$left" -gt 0 ] || left=1
		if ! wait_for "node$i: ToR IPv4 routes imported (>= $routes)" "$left" imported "$sock4" "$birdc" "Global_$(protoname "$tor4")" "$routes"; then
			log "node$i: Global_$(protoname "$tor4") imported fewer than $routes routes after ${timeout}s"
			ok=false
		fi
		left=$((end - SECONDS)); [ "$left" -gt 0 ] || left=1
		if ! wait_for "node$i: ToR IPv6 routes imported (>= $routes6)" "$left" imported "$sock6" "$birdc6" "Global_$(protoname "$tor6")" "$routes6"; then
			log "node$i: Global_$(protoname "$tor6") imported fewer than $routes6 routes after ${timeout}s"
			ok=false
		fi
	done
	$ok || die "up: lab $name is not ready (left up for inspection; logs in $run/*/*.log; '$0 down --name $name' removes it)"
	log "up: $nodes nodes, BIRD $bird_version ($flavour); description in $run/lab.env and $run/lab.json"
}

write_env() { # BIRD_VERSION BIRDC BIRDC6 DAEMON DAEMON6
	local i sock6 e=$run/lab.env.tmp j=$run/lab.json.tmp
	{
		echo "# Lab $name, written by test/lab/lab.sh up. KEY=value, no quoting; nodes are numbered 1..LAB_NODES."
		echo "LAB_NAME=$name"
		echo "LAB_BIRD=$birdv"
		echo "LAB_FLAVOUR=$flavour"
		echo "LAB_BIRD_VERSION=$1"
		echo "LAB_DAEMON=$4"
		echo "LAB_DAEMON6=$5"
		echo "LAB_BIRDC=$2"
		echo "LAB_BIRDC6=$3"
		echo "LAB_NODES=$nodes"
		echo "LAB_ROUTES=$routes"
		echo "LAB_ROUTES6=$routes6"
		echo "LAB_TIMEFORMAT=$timeformat"
		echo "LAB_RUN_DIR=$run"
		echo "LAB_AS=$node_as"
		echo "LAB_TOR_AS=$tor_as"
		echo "LAB_TOR_NETNS=$ns_tor"
		echo "LAB_TOR_IP4=$tor4"
		echo "LAB_TOR_IP6=$tor6"
		echo "LAB_TOR_LINKLOCAL6=$torll"
		echo "LAB_TOR_SOCKET=$run/tor/bird.ctl"
		echo "LAB_PEER_AS=$peer_as"
		echo "LAB_PEER_NETNS=$ns_peer"
		echo "LAB_PEER_IP4=$peer4"
		echo "LAB_PEER_PORT=$peer_port"
		echo "LAB_PEER_IP6=$peer6"
		echo "LAB_DEAD_IP4=$dead4"
		echo "LAB_DEAD_IP6=$dead6"
		echo "LAB_DISABLED_IP4=$off4"
		echo "LAB_DISABLED_IP6=$off6"
		for ((i = 1; i <= nodes; i++)); do
			sock6=$run/node$i/bird6.ctl
			[ "$birdv" = 1 ] || sock6=$run/node$i/bird.ctl
			echo "NODE${i}_NAME=node$i"
			echo "NODE${i}_NETNS=$(node_ns "$i")"
			echo "NODE${i}_IP4=$(ip4 "$i")"
			echo "NODE${i}_IP6=$(ip6 "$i")"
			echo "NODE${i}_SOCKET4=$run/node$i/bird.ctl"
			echo "NODE${i}_SOCKET6=$sock6"
			echo "NODE${i}_BLOCK4=$(block4 "$i" 0)"
			echo "NODE${i}_BLOCK6=$(block6 "$i" 0)"
		done
	} >"$e"
	{
		printf '{\n  "name": "%s",\n  "bird": %s,\n  "flavour": "%s",\n  "birdVersion": "%s",\n  "birdc": "%s",\n  "birdc6": "%s",\n' "$name" "$birdv" "$flavour" "$1" "$2" "$3"
		printf '  "daemon": "%s",\n  "daemon6": "%s",\n' "$4" "$5"
		printf '  "routes": %s,\n  "routes6": %s,\n  "timeformat": "%s",\n  "runDir": "%s",\n  "as": %s,\n' "$routes" "$routes6" "$timeformat" "$run" "$node_as"
		printf '  "tor": {"netns": "%s", "as": %s, "ip4": "%s", "ip6": "%s", "linkLocal6": "%s", "socket": "%s"},\n' "$ns_tor" "$tor_as" "$tor4" "$tor6" "$torll" "$run/tor/bird.ctl"
		printf '  "peer": {"netns": "%s", "as": %s, "ip4": "%s", "ip6": "%s", "port": %s},\n' "$ns_peer" "$peer_as" "$peer4" "$peer6" "$peer_port"
		printf '  "deadPeer": {"ip4": "%s", "ip6": "%s"},\n  "disabledPeer": {"ip4": "%s", "ip6": "%s"},\n  "nodes": [\n' "$dead4" "$dead6" "$off4" "$off6"
		for ((i = 1; i <= nodes; i++)); do
			sock6=$run/node$i/bird6.ctl
			[ "$birdv" = 1 ] || sock6=$run/node$i/bird.ctl
			printf '    {"name": "node%s", "netns": "%s", "ip4": "%s", "ip6": "%s", "socket4": "%s", "socket6": "%s", "block4": "%s", "block6": "%s"}%s\n' \
				"$i" "$(node_ns "$i")" "$(ip4 "$i")" "$(ip6 "$i")" "$run/node$i/bird.ctl" "$sock6" "$(block4 "$i" 0)" "$(block6 "$i" 0)" "$([ "$i" -lt "$nodes" ] && echo ,)"
		done
		printf '  ]\n}\n'
	} >"$j"
	mv "$e" "$run/lab.env"
	mv "$j" "$run/lab.json"
}

status() {
	[ -f "$run/lab.env" ] || { echo "lab $name: not up (no $run/lab.env)"; [ -z "$(lab_namespaces)" ] || echo "namespaces: $(lab_namespaces | tr '\n' ' ')"; return 1; }
	# shellcheck disable=SC1090
	. "$run/lab.env"
	echo "lab $name: BIRD $LAB_BIRD_VERSION, $LAB_NODES nodes, ToR $LAB_TOR_IP4 / $LAB_TOR_IP6 (AS $LAB_TOR_AS), routes $LAB_ROUTES/$LAB_ROUTES6"
	local i s4 s6 ip4v ip6v
	for ((i = 1; i <= LAB_NODES; i++)); do
		s4=NODE${i}_SOCKET4 s6=NODE${i}_SOCKET6 ip4v=NODE${i}_IP4 ip6v=NODE${i}_IP6
		echo "node$i  $(node_ns "$i")  ${!ip4v}  ${!ip6v}  socket4=${!s4}  socket6=${!s6}"
		"$LAB_BIRDC" -s "${!s4}" show protocols 2>&1 | sed 's/^/    /'
		if [ "${!s6}" != "${!s4}" ]; then "$LAB_BIRDC6" -s "${!s6}" show protocols 2>&1 | sed 's/^/    /'; fi
	done
}

case $cmd in
up) need_root; up ;;
down) need_root; down; log "down: nothing left" ;;
status) status ;;
*) usage ;;
esac
