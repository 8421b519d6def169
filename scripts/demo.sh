#!/usr/bin/env bash
# make demo: the appliance's main job end to end on this machine.
#  1. a private ClickHouse on loopback,
#  2. a veth pair whose far end sits in a network namespace of the demo's own,
#  3. appliance --fanout 2 capturing on the near end and listening for HEP,
#  4. traffic: the project's own generated capture (calls, registrations,
#     OPTIONS over UDP, VLAN, IPIP, GRE, VXLAN, IPv6, TCP, IP fragments) and,
#     when ../shared is present, the real captures, replayed with tcpreplay
#     from inside the namespace; HEP v3 from the project's generator,
#  5. SIGTERM: the appliance inserts everything and stops,
#  6. what ClickHouse holds.
# Traffic only ever goes onto the veth the demo created, or to loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: capturing needs root (CAP_NET_RAW, CAP_NET_ADMIN); re-running with sudo"
	exec sudo -E "$0" "$@"
fi
BIN=${BIN:-bin/appliance}
SIPGEN=${SIPGEN:-bin/sipgen}
SHARED=${APPLIANCE_SHARED:-../shared}
work=$(mktemp -d /tmp/appliance-demo.XXXXXX)
id=$$
ns=apldemo$id
host=apld${id}h
peer=apld${id}p
app_pid=""

cleanup() {
	[ -n "$app_pid" ] && kill -9 "$app_pid" 2>/dev/null || true
	ip link del "$host" 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	scripts/clickhouse.sh stop "$work/ch" || true
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "1. ClickHouse"
scripts/clickhouse.sh start "$work/ch"
http=$(cat "$work/ch/http_port")
tcp=$(cat "$work/ch/tcp_port")
ch() { clickhouse-client --port "$tcp" --format PrettyCompactMonoBlock -q "$1"; }

step "2. veth $host <-> $peer (in namespace $ns)"
ip netns add "$ns"
ip link add "$host" type veth peer name "$peer" netns "$ns"
ip link set "$host" mtu 65000 up
echo 1 > "/proc/sys/net/ipv6/conf/$host/disable_ipv6"
ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1
ip netns exec "$ns" ip link set "$peer" mtu 65000 up

step "3. appliance --fanout 2 on $host, HEP on 127.0.0.1:19060"
# Some generated calls run between two ephemeral ports, as behind NAT, and one
# real capture carries SIP over TCP on port 6060: the kernel's port filter is
# off (raw_moni_bpf_on 0) so that every message sent can be counted in
# ClickHouse; the frame path still recognises SIP on any port.
"$BIN" --raw_moni_capture_on 1 --raw_interface "$host" --fanout 2 --raw_moni_bpf_on 0 \
	--hep_capture_on 1 --hep_listen 127.0.0.1:19060 --admin 127.0.0.1:19096 \
	--db_url "http://127.0.0.1:$http/homer" --spool_dir "$work/spool" --capture_node demo01 \
	--batch_age 500ms > "$work/appliance.log" 2>&1 &
app_pid=$!
for _ in $(seq 1 300); do
	if (exec 3<>/dev/tcp/127.0.0.1/19096) 2>/dev/null; then
		exec 3<>/dev/tcp/127.0.0.1/19096
		printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3
		if grep -q "^ready" <&3; then exec 3>&-; break; fi
		exec 3>&-
	fi
	kill -0 "$app_pid" 2>/dev/null || { cat "$work/appliance.log"; exit 1; }
	sleep 0.1
done
grep -E 'capturing|HEP listening|ClickHouse ready' "$work/appliance.log" | sed 's/^/   /'

step "4. traffic"
"$SIPGEN" pcap -o "$work/generated.pcap" -scenarios 2000 -manifest "$work/manifest.jsonl" >/dev/null
files=("$work/generated.pcap")
if [ -d "$SHARED/testdata/pcap" ]; then
	for f in "$SHARED"/testdata/pcap/*.pcap*; do
		# tcpreplay sends Ethernet frames: captures of other link types are left out
		capinfos -E "$f" 2>/dev/null | grep -q "Ethernet" && files+=("$f")
	done
else
	echo "   $SHARED/testdata/pcap absent: replaying the generated capture only"
fi
sent=$("$BIN" inspect "${files[@]}" 2>/dev/null | wc -l)
echo "   replaying ${#files[@]} captures ($sent SIP messages) onto $peer with tcpreplay"
failed=0
for f in "${files[@]}"; do
	out=$(ip netns exec "$ns" tcpreplay --topspeed -i "$peer" "$f" 2>&1)
	n=$(echo "$out" | awk '/Failed packets:/ {print $3}')
	failed=$((failed + ${n:-0}))
done
echo "   tcpreplay: $failed frames failed to send"
hep=3000
echo "   sending $hep HEP v3 messages to 127.0.0.1:19060"
"$SIPGEN" hep -addr 127.0.0.1:19060 -count "$hep" -rate 5000 -node agent01 > /dev/null
total=$((sent + hep))
metric() {
	(exec 3<>/dev/tcp/127.0.0.1/19096 && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 &&
		awk -v m="$1" '$1 ~ "^"m"([{]|$)" {s += $2} END {print s + 0}' <&3) 2>/dev/null || echo 0
}
for _ in $(seq 1 100); do
	[ "$(metric appliance_stored_total)" -ge "$total" ] && break
	sleep 0.1
done

step "5. SIGTERM"
kill -TERM "$app_pid"
wait "$app_pid" || { echo "the appliance failed:"; tail -20 "$work/appliance.log"; exit 1; }
app_pid=""
grep -E 'msg=stopped|rings closed' "$work/appliance.log" | sed 's/^/   /'

step "6. what ClickHouse holds"
rows=$(clickhouse-client --port "$tcp" -q "SELECT count() FROM homer.sip_capture")
echo "   sent $total SIP messages (captures $sent, HEP $hep), stored $rows rows"
echo "   messages by method:"
ch "SELECT method, count() AS messages FROM homer.sip_capture GROUP BY method ORDER BY messages DESC, method"
echo "   calls, registrations, messages by encapsulation:"
ch "SELECT uniqExactIf(callid, method = 'INVITE') AS calls, uniqExactIf(callid, method = 'REGISTER') AS registrations, count() AS messages, uniqExact(node) AS nodes FROM homer.sip_capture"
ch "SELECT encap, count() AS messages FROM homer.sip_capture GROUP BY encap ORDER BY messages DESC LIMIT 12"
echo "   top user agents:"
ch "SELECT user_agent, count() AS messages FROM homer.sip_capture WHERE user_agent != '' GROUP BY user_agent ORDER BY messages DESC LIMIT 8"
callid=$(clickhouse-client --port "$tcp" -q "SELECT callid FROM homer.sip_capture WHERE callid IN (SELECT callid FROM homer.sip_capture WHERE method = 'INVITE' AND encap LIKE '%gre%') GROUP BY callid ORDER BY count() DESC, callid LIMIT 1")
echo "   one call's messages in order (Call-ID $callid):"
ch "SELECT toDateTime(intDiv(micro_ts, 1000000)) AS time, micro_ts % 1000000 AS us, concat(source_ip, ':', toString(source_port)) AS src, concat(destination_ip, ':', toString(destination_port)) AS dst, method, reply_reason, cseq, encap FROM homer.sip_capture WHERE callid = '$callid' ORDER BY micro_ts"
if [ "$rows" -ne "$total" ]; then
	echo "demo: stored $rows of $total messages" >&2
	exit 1
fi
echo
echo "demo: every message sent is in ClickHouse. Logs and data: $work"
