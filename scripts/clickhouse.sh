#!/usr/bin/env bash
# Starts or stops a private ClickHouse server with its data in DIR, on
# loopback only (no systemd): scripts/clickhouse.sh start|stop DIR.
# After start, DIR/http_port and DIR/tcp_port hold the ports.
set -euo pipefail
cmd=${1:?usage: clickhouse.sh start|stop DIR}
dir=${2:?usage: clickhouse.sh start|stop DIR}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
	local p
	for p in "$@"; do
		if port_free "$p"; then echo "$p"; return; fi
	done
	echo "clickhouse.sh: no free port among $*" >&2
	exit 1
}

case $cmd in
start)
	server=$(command -v clickhouse-server || true)
	[ -z "$server" ] && [ -x /usr/sbin/clickhouse-server ] && server=/usr/sbin/clickhouse-server
	[ -z "$server" ] && { echo "clickhouse.sh: clickhouse-server missing (make deps installs it)" >&2; exit 1; }
	mkdir -p "$dir"/{data,tmp,user_files,format_schemas,log}
	dir=$(cd "$dir" && pwd)
	http=$(pick_port 18123 18124 18125 18126 18127)
	tcp=$(pick_port 19000 19001 19002 19003 19004)
	inter=$(pick_port 19009 19010 19011 19012 19013)
	cp /etc/clickhouse-server/users.xml "$dir/users.xml"
	cat > "$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/server.err.log</errorlog><size>10M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$http</http_port>
  <tcp_port>$tcp</tcp_port>
  <interserver_http_port>$inter</interserver_http_port>
  <max_connections>256</max_connections>
  <keep_alive_timeout>30</keep_alive_timeout>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>500</flush_interval_milliseconds></query_log>
</yandex>
XML
	"$server" --config-file="$dir/config.xml" > "$dir/log/stdout.log" 2>&1 &
	echo $! > "$dir/pid"
	echo "$http" > "$dir/http_port"
	echo "$tcp" > "$dir/tcp_port"
	for _ in $(seq 1 300); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$http") 2>/dev/null; then
			exec 3<>"/dev/tcp/127.0.0.1/$http"
			printf 'GET /ping HTTP/1.0\r\n\r\n' >&3
			if grep -q "Ok." <&3; then exec 3>&-; echo "clickhouse: ready on 127.0.0.1:$http (data in $dir)"; exit 0; fi
			exec 3>&-
		fi
		if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
			echo "clickhouse.sh: the server exited:" >&2; tail -20 "$dir/log/server.err.log" "$dir/log/stdout.log" >&2 || true; exit 1
		fi
		sleep 0.1
	done
	echo "clickhouse.sh: not ready after 30 s" >&2
	exit 1
	;;
stop)
	[ -f "$dir/pid" ] || exit 0
	pid=$(cat "$dir/pid")
	kill "$pid" 2>/dev/null || exit 0
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	;;
*)
	echo "usage: clickhouse.sh start|stop DIR" >&2
	exit 2
	;;
esac
