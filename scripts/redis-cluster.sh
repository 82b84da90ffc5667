#!/usr/bin/env bash
# redis-cluster.sh: a local Redis Cluster for trying dueq and for its tests:
# 3 primaries and 3 replicas on free loopback ports, in a temporary
# directory, without persistence unless asked.
#
#   scripts/redis-cluster.sh                 # start, print the URL, stop on Ctrl-C
#   scripts/redis-cluster.sh start DIR       # start in the background, state in DIR;
#                                            # prints the URL (also in DIR/url)
#   scripts/redis-cluster.sh stop DIR        # stop it and remove DIR
#   scripts/redis-cluster.sh kill DIR PORT   # SIGKILL the node on PORT (a failover test)
#   scripts/redis-cluster.sh revive DIR PORT # start that node again: it rejoins, as a
#                                            # replica once its replica took over
#   scripts/redis-cluster.sh restart DIR     # SIGKILL every node, start them again on
#                                            # their ports; they reload what they persisted
#
# OWNER_PID, when set, is a process whose exit stops what start started.
# REDIS_ARGS (e.g. "--appendonly yes") are added to every node's arguments.
# REPLICAS=0 starts the 3 primaries alone (benchmarks on one small machine,
# where replicas would take CPU that real shards have on machines of their
# own); the default is 1 replica per primary.
# Then: dueq serve --redis "$(cat DIR/url)"   (or the URL printed)
# Needs redis-server and redis-cli 7.0 or newer, and python3 (to find free ports).
set -euo pipefail

SCRIPT=redis-cluster.sh
# shellcheck source=redis-local.sh
source "$(dirname "${BASH_SOURCE[0]}")/redis-local.sh"

REPLICAS=${REPLICAS:-1}
case $REPLICAS in 0 | 1) ;; *) die "REPLICAS=$REPLICAS: use 0 or 1" ;; esac
NODES=$((3 * (1 + REPLICAS)))

# node_start DIR PORT starts one node in DIR/PORT.
node_start() {
	local dir=$1 port=$2
	mkdir -p "$dir/$port"
	# shellcheck disable=SC2086
	redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/$port" --cluster-enabled yes \
		--cluster-config-file nodes.conf --cluster-node-timeout 2000 --save '' --appendonly no \
		--daemonize yes --pidfile "$dir/$port/pid" --logfile "$dir/$port/redis.log" $REDIS_ARGS
}

# wait_ok DIR waits until every node reports the cluster ok and every
# primary has a replica in sync with it.
wait_ok() {
	local dir=$1 port
	for _ in $(seq 1 400); do
		local ok=1 synced=0 info
		for port in $(cat "$dir/ports"); do
			redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ok=0
			info=$(redis-cli -p "$port" info replication 2>/dev/null || true)
			if grep -q '^role:slave' <<<"$info" && grep -q '^master_link_status:up' <<<"$info"; then
				synced=$((synced + 1))
			fi
		done
		[ $ok = 1 ] && [ $synced -ge $((3 * REPLICAS)) ] && return 0
		sleep 0.05
	done
	die "the cluster in $dir did not become ok (logs: $dir/*/redis.log)"
}

start() {
	local dir=$1 ports port
	mkdir -p "$dir"
	ports=$(free_ports $NODES bus)
	echo "$ports" >"$dir/ports"
	for port in $ports; do node_start "$dir" "$port"; done
	for port in $ports; do wait_answer "$port" "$dir/$port/redis.log"; done
	local addrs=()
	for port in $ports; do addrs+=("127.0.0.1:$port"); done
	redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$REPLICAS" --cluster-yes >"$dir/create.log" 2>&1 ||
		die "redis-cli --cluster create failed: $(tail -5 "$dir/create.log")"
	wait_ok "$dir"
	local url
	url="redis-cluster://$(
		IFS=,
		echo "${addrs[*]}"
	)"
	echo "$url" >"$dir/url"
	watch_owner "$dir"
	echo "$url"
}

stop() {
	local dir=$1 port
	[ -f "$dir/ports" ] || die "no cluster in $dir (no $dir/ports)"
	for port in $(cat "$dir/ports"); do
		kill_pidfile "$dir/$port/pid"
	done
	rm -rf "$dir"
}

kill_node() {
	local dir=$1 port=$2
	[ -f "$dir/$port/pid" ] || die "no node on port $port in $dir"
	kill_pidfile "$dir/$port/pid"
}

revive() {
	local dir=$1 port=$2
	[ -d "$dir/$port" ] || die "no node on port $port in $dir"
	node_start "$dir" "$port"
	wait_answer "$port" "$dir/$port/redis.log"
	wait_ok "$dir"
}

restart() {
	local dir=$1 port
	for port in $(cat "$dir/ports"); do
		kill_pidfile "$dir/$port/pid"
	done
	for port in $(cat "$dir/ports"); do
		wait_gone "$port"
		node_start "$dir" "$port"
	done
	for port in $(cat "$dir/ports"); do wait_answer "$port" "$dir/$port/redis.log"; done
	wait_ok "$dir"
}

case ${1:-up} in
up) run_up dueq-cluster "A Redis Cluster of 3 primaries and 3 replicas is" ;;
start) start "${2:?usage: redis-cluster.sh start DIR}" ;;
stop) stop "${2:?usage: redis-cluster.sh stop DIR}" ;;
kill) kill_node "${2:?usage: redis-cluster.sh kill DIR PORT}" "${3:?usage: redis-cluster.sh kill DIR PORT}" ;;
revive) revive "${2:?usage: redis-cluster.sh revive DIR PORT}" "${3:?usage: redis-cluster.sh revive DIR PORT}" ;;
restart) restart "${2:?usage: redis-cluster.sh restart DIR}" ;;
*) die "unknown command '$1' (up, start, stop, kill, revive, restart)" ;;
esac
