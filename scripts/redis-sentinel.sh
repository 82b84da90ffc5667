#!/usr/bin/env bash
# redis-sentinel.sh: a local Redis with Sentinel for trying dueq and for its
# tests: a primary, a replica and 3 sentinels watching them (as "dueq"), on
# free loopback ports, in a temporary directory, without persistence unless
# asked. The sentinels fail over 1 s after the primary stops answering.
#
#   scripts/redis-sentinel.sh                 # start, print the URL, stop on Ctrl-C
#   scripts/redis-sentinel.sh start DIR       # start in the background, state in DIR;
#                                             # prints the URL (also in DIR/url)
#   scripts/redis-sentinel.sh stop DIR        # stop it and remove DIR
#   scripts/redis-sentinel.sh primary DIR     # print the port of the current primary
#   scripts/redis-sentinel.sh kill DIR PORT   # SIGKILL the server on PORT (a failover test)
#   scripts/redis-sentinel.sh revive DIR PORT # start it again, as a replica of the primary now
#   scripts/redis-sentinel.sh restart DIR     # SIGKILL both data servers, start them again
#                                             # on their ports; they reload what they persisted
#
# OWNER_PID, when set, is a process whose exit stops what start started.
# REDIS_ARGS (e.g. "--appendonly yes") are added to both data servers' arguments.
# Then: dueq serve --redis "$(cat DIR/url)"   (or the URL printed)
# Needs redis-server and redis-cli 7.0 or newer, and python3 (to find free ports).
set -euo pipefail

SCRIPT=redis-sentinel.sh
# shellcheck source=redis-local.sh
source "$(dirname "${BASH_SOURCE[0]}")/redis-local.sh"

MASTER=dueq

# data_start DIR PORT [PRIMARY_PORT] starts a data server in DIR/PORT, a
# replica of PRIMARY_PORT when given.
data_start() {
	local dir=$1 port=$2 of=${3:-}
	mkdir -p "$dir/$port"
	local args=(--port "$port" --bind 127.0.0.1 --dir "$dir/$port" --save '' --appendonly no
		--daemonize yes --pidfile "$dir/$port/pid" --logfile "$dir/$port/redis.log")
	[ -n "$of" ] && args+=(--replicaof 127.0.0.1 "$of")
	# shellcheck disable=SC2086
	redis-server "${args[@]}" $REDIS_ARGS
}

sentinel_start() {
	local dir=$1 port=$2 primary=$3
	mkdir -p "$dir/s$port"
	cat >"$dir/s$port/sentinel.conf" <<EOF
port $port
bind 127.0.0.1
dir $dir/s$port
daemonize yes
pidfile $dir/s$port/pid
logfile $dir/s$port/sentinel.log
sentinel monitor $MASTER 127.0.0.1 $primary 2
sentinel down-after-milliseconds $MASTER 1000
sentinel failover-timeout $MASTER 5000
sentinel parallel-syncs $MASTER 1
EOF
	redis-server "$dir/s$port/sentinel.conf" --sentinel
}

# primary_port DIR prints the port of the primary the sentinels name now.
primary_port() {
	local dir=$1 s
	for s in $(cat "$dir/sentinels"); do
		local a
		a=$(redis-cli -p "$s" sentinel get-master-addr-by-name $MASTER 2>/dev/null | tail -1) || continue
		[ -n "$a" ] && echo "$a" && return 0
	done
	die "no sentinel in $dir answers"
}

# wait_ready DIR waits until every sentinel knows the primary, the replica
# and the other sentinels, and the replica is in sync.
wait_ready() {
	local dir=$1 s
	for _ in $(seq 1 600); do
		local ok=1
		for s in $(cat "$dir/sentinels"); do
			local m
			m=$(redis-cli -p "$s" sentinel master $MASTER 2>/dev/null | tr '\n' ' ') || m=""
			grep -q 'num-slaves 1 ' <<<"$m" || ok=0
			grep -q 'num-other-sentinels 2 ' <<<"$m" || ok=0
			grep -q 'flags master ' <<<"$m" || ok=0
		done
		local p
		for p in $(cat "$dir/data"); do
			local info
			info=$(redis-cli -p "$p" info replication 2>/dev/null || true)
			if grep -q '^role:slave' <<<"$info"; then
				grep -q '^master_link_status:up' <<<"$info" || ok=0
			fi
		done
		[ $ok = 1 ] && return 0
		sleep 0.05
	done
	die "the sentinels in $dir did not become ready (logs: $dir/*/*.log)"
}

start() {
	local dir=$1 ports
	mkdir -p "$dir"
	read -r -a ports <<<"$(free_ports 5)"
	echo "${ports[0]} ${ports[1]}" >"$dir/data"
	echo "${ports[2]} ${ports[3]} ${ports[4]}" >"$dir/sentinels"
	data_start "$dir" "${ports[0]}"
	wait_answer "${ports[0]}" "$dir/${ports[0]}/redis.log"
	data_start "$dir" "${ports[1]}" "${ports[0]}"
	wait_answer "${ports[1]}" "$dir/${ports[1]}/redis.log"
	local s
	for s in "${ports[@]:2}"; do sentinel_start "$dir" "$s" "${ports[0]}"; done
	for s in "${ports[@]:2}"; do wait_answer "$s" "$dir/s$s/sentinel.log"; done
	wait_ready "$dir"
	local url="redis-sentinel://127.0.0.1:${ports[2]},127.0.0.1:${ports[3]},127.0.0.1:${ports[4]}/$MASTER"
	echo "$url" >"$dir/url"
	watch_owner "$dir"
	echo "$url"
}

stop() {
	local dir=$1 p
	[ -f "$dir/data" ] || die "no sentinel setup in $dir (no $dir/data)"
	for p in $(cat "$dir/sentinels"); do
		kill_pidfile "$dir/s$p/pid"
	done
	for p in $(cat "$dir/data"); do
		kill_pidfile "$dir/$p/pid"
	done
	rm -rf "$dir"
}

kill_server() {
	local dir=$1 port=$2
	[ -f "$dir/$port/pid" ] || die "no data server on port $port in $dir"
	kill_pidfile "$dir/$port/pid"
}

revive() {
	local dir=$1 port=$2 primary
	[ -d "$dir/$port" ] || die "no data server on port $port in $dir"
	primary=$(primary_port "$dir")
	[ "$primary" != "$port" ] || die "the sentinels still name port $port the primary: wait for the failover"
	data_start "$dir" "$port" "$primary"
	wait_answer "$port" "$dir/$port/redis.log"
	wait_ready "$dir"
}

restart() {
	local dir=$1 p primary
	primary=$(primary_port "$dir")
	for p in $(cat "$dir/data"); do
		kill_pidfile "$dir/$p/pid"
	done
	for p in $(cat "$dir/data"); do
		wait_gone "$p"
		if [ "$p" = "$primary" ]; then data_start "$dir" "$p"; else data_start "$dir" "$p" "$primary"; fi
	done
	for p in $(cat "$dir/data"); do wait_answer "$p" "$dir/$p/redis.log"; done
	wait_ready "$dir"
}

case ${1:-up} in
up) run_up dueq-sentinel "A Redis primary, its replica and 3 sentinels are" ;;
start) start "${2:?usage: redis-sentinel.sh start DIR}" ;;
stop) stop "${2:?usage: redis-sentinel.sh stop DIR}" ;;
primary) primary_port "${2:?usage: redis-sentinel.sh primary DIR}" ;;
kill) kill_server "${2:?usage: redis-sentinel.sh kill DIR PORT}" "${3:?usage: redis-sentinel.sh kill DIR PORT}" ;;
revive) revive "${2:?usage: redis-sentinel.sh revive DIR PORT}" "${3:?usage: redis-sentinel.sh revive DIR PORT}" ;;
restart) restart "${2:?usage: redis-sentinel.sh restart DIR}" ;;
*) die "unknown command '$1' (up, start, stop, primary, kill, revive, restart)" ;;
esac
