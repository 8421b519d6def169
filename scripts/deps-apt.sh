#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need, once.
set -euo pipefail
need=()
for pair in tshark:tshark tcpreplay:tcpreplay clickhouse-server:clickhouse-server \
            clickhouse-client:clickhouse-client ip:iproute2 node:nodejs npm:npm \
            tcpdump:tcpdump capinfos:tshark git:git; do
	cmd=${pair%%:*} pkg=${pair#*:}
	command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
