#!/usr/bin/env bash
# redis-costs.sh: what Redis spends, in CPU (INFO cpu, user + sys), on the
# pieces dueq's hot path is made of, on this machine. It explains the
# figures of scripts/bench.sh that are bound by Redis's CPU (README,
# Benchmarks): the cost of a request whatever it holds, and what crossing
# the Lua boundary costs per value.
#
#   scripts/redis-costs.sh         # needs redis-server and redis-benchmark
#
# It starts its own redis-server on a free loopback port in a temporary
# directory and stops it on exit.
set -euo pipefail

die() { echo "redis-costs.sh: $*" >&2; exit 1; }
command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
command -v redis-benchmark >/dev/null || die "redis-benchmark not found (it comes with redis-server)"
command -v redis-cli >/dev/null || die "redis-cli not found (it comes with redis-server)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dueq-costs.XXXXXX")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" --logfile "$tmp/redis.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
cli() { redis-cli -p "$port" "$@"; }
for _ in $(seq 50); do cli ping >/dev/null 2>&1 && break; sleep 0.1; done

cpu() { cli info cpu | awk -F: '/used_cpu_(user|sys):/ { s += $2 } END { printf "%.6f", s }'; }
# cost LABEL N CLIENTS PIPELINE ARGS...: Redis CPU per call of ARGS.
cost() {
	local label=$1 n=$2 c=$3 p=$4 a b
	shift 4
	a=$(cpu)
	redis-benchmark -p "$port" -n "$n" -c "$c" -P "$p" -q "$@" >/dev/null 2>&1
	b=$(cpu)
	printf '| %s | %s |\n' "$label" "$(python3 -c "print(f'{($b - $a) * 1e6 / $n:.1f}')")"
}
script() { cli script load "$1"; }

# A record like dueq's (11 fields) and a due index of 17 entries.
cli hset '{x}:h' v 1 name noop args '"8 bytes"' queue default state scheduled due 1795442153279 \
	created 1795438553279 max_attempts 1 opf fail attempts 1 run 1 >/dev/null
cli zadd '{x}:z' 1 a 2 b 3 c 4 d 5 e 6 f 7 g 8 h 9 i 10 j 11 k 12 l 13 m 14 n 15 o 16 p 17 q >/dev/null

echo "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), $(nproc) CPUs: Redis CPU per call"
echo
echo "| call | µs |"
echo "|---|--:|"
cost "PING, one request per round trip" 50000 1 1 ping
cost "PING, 32 per round trip" 200000 4 32 ping
cost "HGETALL of the record, pipelined" 200000 4 32 hgetall '{x}:h'
one=$(script "return 1")
cost "empty script, pipelined" 200000 4 32 evalsha "$one" 2 '{x}:h' '{x}:z'
s=$(script "local h = redis.call('HGETALL', KEYS[1]) return 1")
cost "script: HGETALL of the record into Lua" 200000 4 32 evalsha "$s" 2 '{x}:h' '{x}:z'
s=$(script "return redis.call('HGETALL', KEYS[1])")
cost "script: HGETALL of the record, returned" 200000 4 32 evalsha "$s" 2 '{x}:h' '{x}:z'
s=$(script "local x = redis.call('ZRANGE', KEYS[2], 0, 15) return 1")
cost "script: 16 index entries, no scores" 200000 4 32 evalsha "$s" 2 '{x}:h' '{x}:z'
s=$(script "local x = redis.call('ZRANGE', KEYS[2], 0, 15, 'WITHSCORES') return 1")
cost "script: 16 index entries with scores" 200000 4 32 evalsha "$s" 2 '{x}:h' '{x}:z'
s=$(script "return redis.call('ZMSCORE', KEYS[2], 'a','b','c','d','e','f','g','h')")
cost "script: 8 scores (ZMSCORE)" 200000 4 32 evalsha "$s" 2 '{x}:h' '{x}:z'
