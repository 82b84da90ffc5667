# redis-local.sh: what scripts/redis-cluster.sh and scripts/redis-sentinel.sh
# share, sourced by both (not run by itself). The script sets SCRIPT (its
# name, for messages) before sourcing it.

die() { echo "$SCRIPT: $*" >&2; exit 1; }

command -v redis-server >/dev/null || die "redis-server not found: install Redis 7 (e.g. apt-get install redis-server)"
command -v redis-cli >/dev/null || die "redis-cli not found: install Redis 7 (e.g. apt-get install redis-tools)"

REDIS_ARGS=${REDIS_ARGS:-}
OWNER_PID=${OWNER_PID:-}

# free_ports N [BUS] prints N free loopback ports; with BUS, each port p
# has p+10000 (a cluster node's bus port) free too.
free_ports() {
	command -v python3 >/dev/null || die "python3 not found: it finds free ports; install python3"
	python3 - "$1" "${2:-}" <<'EOF'
import random, socket, sys
n, bus, got = int(sys.argv[1]), sys.argv[2] != "", []
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
while len(got) < n:
    p = random.randint(20000, 29999)
    if p not in got and free(p) and (not bus or free(p + 10000)):
        got.append(p)
print(" ".join(map(str, got)))
EOF
}

# wait_answer PORT LOG waits until the server on PORT answers.
wait_answer() {
	for _ in $(seq 1 200); do
		redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	die "the server on port $1 did not start (log: $2)"
}

# wait_gone PORT waits until nothing answers on PORT any more.
wait_gone() {
	for _ in $(seq 1 100); do
		redis-cli -p "$1" ping >/dev/null 2>&1 || return 0
		sleep 0.05
	done
}

# kill_pidfile FILE kills (SIGKILL) the process FILE names, if any, and
# removes FILE.
kill_pidfile() {
	if [ -f "$1" ]; then
		kill -9 "$(cat "$1")" 2>/dev/null || true
		rm -f "$1"
	fi
}

# watch_owner DIR stops what start made in DIR (the script's own stop)
# once the process OWNER_PID names has exited, when it is set: a test
# binary that crashed cannot clean up after itself. The watcher holds none
# of the script's output, so a caller reading it is not kept waiting.
watch_owner() {
	[ -n "$OWNER_PID" ] || return 0
	(
		while kill -0 "$OWNER_PID" 2>/dev/null; do sleep 1; done
		stop "$1"
	) </dev/null >/dev/null 2>&1 &
}

# run_up PREFIX WHAT runs the foreground mode: start (the script's own
# function) in a new temporary directory, print the URL, and stop (its
# own) on exit or Ctrl-C.
run_up() {
	local dir url
	dir=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	# shellcheck disable=SC2064
	trap "stop '$dir'" EXIT
	trap 'exit 130' INT TERM
	url=$(start "$dir")
	echo "$2 running in $dir."
	echo "Use it with:  dueq serve --redis '$url'"
	echo "Ctrl-C stops it and removes its data."
	while true; do sleep 3600; done
}
