#!/usr/bin/env bash
# bench.sh: dueq beside asynq (and the limitprobe yardstick) on one scratch
# Redis in one run, printed as a side-by-side markdown table (SPEC §8, issue 6).
#
#   scripts/bench.sh                    # every mode
#   scripts/bench.sh throughput idle    # some modes (throughput lateness dag idle scale)
#
# It starts its own redis-server on a free loopback port in a temporary
# directory (no persistence) and stops it on exit; every program it runs
# FLUSHALLs that server, never any other. Needs go, redis-server and python3.
#
# Sizes (environment variables, defaults in brackets):
#   TASKS [20000] WORKERS [8] DAEMONS [1]         throughput
#   LAT_TASKS [10000] LAT_SECONDS [10] LAT_DAEMONS [4]   lateness
#   LAT_RUNS [3]                                  lateness and dag runs per system: the table
#                                                 shows the run with the median p99 and lists all
#   DAG_TASKS [0: dueq's default]                 dag (dueq only: asynq has no dependencies)
#   IDLE_SECONDS [10] IDLE_DAEMONS [1]            idle
#   SCALE_TASKS [1000000] SCALE_SMALL [1000]      scale: dueq at both sizes (claim
#                                                 latency must stay flat), memory and bulk
#                                                 submit rate at SCALE_TASKS
#   ASYNQ_SCALE_TASKS [100000]                    scale, asynq (its enqueue is slower)
#   LIMITPROBE [../shared/limitprobe]             yardstick, run with -b 8 in throughput mode
#   RUN_TIMEOUT [900]                             seconds allowed to each program
#   JSON_OUT [unset]                              also write every result as a JSON array here
#
# The table goes to stdout; progress and each program's JSON to stderr.
# Programs are built once (go build), not `go run`, so compiling never overlaps
# a measurement. Ctrl-C stops everything at once; a TERM sent to this script
# alone takes effect when the program running at that moment ends.
set -euo pipefail

die() { echo "bench.sh: $*" >&2; exit 1; }
say() { echo "bench.sh: $*" >&2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

TASKS=${TASKS:-20000} WORKERS=${WORKERS:-8} DAEMONS=${DAEMONS:-1}
LAT_TASKS=${LAT_TASKS:-10000} LAT_SECONDS=${LAT_SECONDS:-10} LAT_DAEMONS=${LAT_DAEMONS:-4}
LAT_RUNS=${LAT_RUNS:-3}
DAG_TASKS=${DAG_TASKS:-0}
IDLE_SECONDS=${IDLE_SECONDS:-10} IDLE_DAEMONS=${IDLE_DAEMONS:-1}
SCALE_TASKS=${SCALE_TASKS:-1000000} SCALE_SMALL=${SCALE_SMALL:-1000}
ASYNQ_SCALE_TASKS=${ASYNQ_SCALE_TASKS:-100000}
LIMITPROBE=${LIMITPROBE:-$root/../shared/limitprobe}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}

modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(throughput lateness dag idle scale)
for m in "${modes[@]}"; do
	case $m in throughput | lateness | dag | idle | scale) ;;
	*) die "unknown mode '$m' (throughput, lateness, dag, idle, scale)" ;;
	esac
done

command -v redis-server >/dev/null ||
	die "redis-server not found: install Redis (e.g. apt-get install redis-server) or put it on PATH"
command -v go >/dev/null || die "go not found: install Go (https://go.dev/dl/) or put it on PATH"
command -v python3 >/dev/null || die "python3 not found: it formats the table; install python3"
timeout_cmd=()
command -v timeout >/dev/null && timeout_cmd=(timeout "$RUN_TIMEOUT")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dueq-bench.XXXXXX")
redis_pid=
cleanup() {
	if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
		kill "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port: bind port 0, read what the kernel chose.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$tmp" --logfile "$tmp/redis.log" &
redis_pid=$!

redis_ping() { # PING over bash's /dev/tcp, so redis-cli is not needed
	local reply
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf 'PING\r\n' >&3
	IFS= read -r -t 2 reply <&3 || reply=
	exec 3<&- 3>&-
	[[ $reply == +PONG* ]]
}
for _ in $(seq 50); do
	redis_ping 2>/dev/null && break
	kill -0 "$redis_pid" 2>/dev/null || die "redis-server exited at start: $(tail -5 "$tmp/redis.log" 2>/dev/null)"
	sleep 0.1
done
redis_ping 2>/dev/null || die "redis-server did not answer PING on port $port within 5 s"
redis_version=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
say "scratch redis-server $redis_version on 127.0.0.1:$port (dir $tmp)"

# Build once, so that compiling never overlaps a measurement.
say "building dueq, bench/asynq${LIMITPROBE:+ and limitprobe}"
have_dueq=1
go build -o "$tmp/dueq" . || { have_dueq=0; say "WARNING: dueq does not build; its column stays empty"; }
(cd bench/asynq && go build -o "$tmp/asynq-bench" .) || die "bench/asynq does not build"
have_probe=0
if [ -d "$LIMITPROBE" ]; then
	if (cd "$LIMITPROBE" && go build -o "$tmp/limitprobe" .); then have_probe=1; else
		say "WARNING: limitprobe in $LIMITPROBE does not build; its column stays empty"
	fi
else
	say "no limitprobe at $LIMITPROBE: its column stays empty"
fi

mkdir -p "$tmp/results"
# run NAME CMD...: run one benchmark program, keep the last JSON line of its
# stdout as results/NAME.json. A failing program is reported and skipped.
run() {
	local name=$1 out rc=0
	shift
	say "running $name: $*"
	out=$("${timeout_cmd[@]}" "$@") || rc=$?
	if [ $rc != 0 ]; then
		[ $rc = 124 ] && say "$name ran longer than RUN_TIMEOUT=${RUN_TIMEOUT}s"
		say "WARNING: $name failed (exit status $rc); its cells stay empty"
		return 0
	fi
	out=$(printf '%s\n' "$out" | grep '^{' | tail -1) || true
	[ -n "$out" ] || { say "WARNING: $name printed no JSON object"; return 0; }
	printf '%s\n' "$out" >"$tmp/results/$name.json"
	echo "$out" >&2
}

url="redis://127.0.0.1:$port"
addr="127.0.0.1:$port"
for m in "${modes[@]}"; do
	case $m in
	throughput) args=(--tasks "$TASKS" --workers "$WORKERS" --daemons "$DAEMONS") ;;
	lateness) args=(--tasks "$LAT_TASKS" --seconds "$LAT_SECONDS" --daemons "$LAT_DAEMONS" --workers "$WORKERS") ;;
	dag) args=(--tasks "$DAG_TASKS" --workers "$WORKERS") ;;
	idle) args=(--seconds "$IDLE_SECONDS" --daemons "$IDLE_DAEMONS" --workers "$WORKERS") ;;
	scale) args=(--tasks "$SCALE_TASKS") ;;
	esac
	if [ "$m" = throughput ] && [ $have_probe = 1 ]; then
		# limitprobe prints one text line: turn its key=value pairs into JSON.
		if line=$("${timeout_cmd[@]}" "$tmp/limitprobe" -redis "$addr" -n "$TASKS" -c "$WORKERS" -b 8); then
			echo "$line" >&2
			python3 - "$line" >"$tmp/results/limitprobe-throughput.json" <<'PY'
import json, sys
kv = dict(w.split("=", 1) for w in sys.argv[1].split() if "=" in w)
out = {"system": "limitprobe", "mode": "throughput"}
for k, v in kv.items():
    out[k] = float(v)
print(json.dumps(out))
PY
		else
			say "WARNING: limitprobe failed; its column stays empty"
		fi
	fi
	if [ "$m" = lateness ] || [ "$m" = dag ]; then
		# Tail latency on a shared 2-core machine varies from run to run:
		# run each system LAT_RUNS times, alternating, and keep the median.
		for i in $(seq "$LAT_RUNS"); do
			[ $have_dueq = 1 ] && run "dueq-$m-$i" "$tmp/dueq" bench --redis "$url" --mode "$m" "${args[@]}"
			[ "$m" = dag ] || run "asynq-$m-$i" "$tmp/asynq-bench" --redis "$addr" --mode "$m" "${args[@]}"
		done
		python3 - "$tmp/results" "$m" <<'PY'
import glob, json, os, sys
d, mode = sys.argv[1:3]
key = {"lateness": "lateness_p99_ms", "dag": "release_p99_ms"}[mode]
for system in ("dueq", "asynq"):
    runs = []
    for p in sorted(glob.glob(os.path.join(d, f"{system}-{mode}-[0-9]*.json"))):
        with open(p) as f:
            runs.append(json.load(f))
    runs = [r for r in runs if r.get(key) is not None]
    if not runs:
        continue
    runs.sort(key=lambda r: r[key])
    median = dict(runs[(len(runs) - 1) // 2])
    median["runs"] = len(runs)
    median["p99_of_each_run"] = " / ".join(f"{r[key]:.2f}" for r in runs)
    if mode == "lateness":
        median["max_of_each_run"] = " / ".join(f"{r['lateness_max_ms']:.2f}" for r in runs)
    with open(os.path.join(d, f"{system}-{mode}.json"), "w") as f:
        json.dump(median, f)
PY
		continue
	fi
	if [ $have_dueq = 1 ]; then
		if [ "$m" = scale ]; then
			run "dueq-scale-small" "$tmp/dueq" bench --redis "$url" --mode scale --tasks "$SCALE_SMALL"
		fi
		run "dueq-$m" "$tmp/dueq" bench --redis "$url" --mode "$m" "${args[@]}"
	fi
	[ "$m" = scale ] && args=(--tasks "$ASYNQ_SCALE_TASKS")
	if [ "$m" != dag ]; then
		run "asynq-$m" "$tmp/asynq-bench" --redis "$addr" --mode "$m" "${args[@]}"
	fi
done

python3 - "$tmp/results" "$redis_version" "$(nproc 2>/dev/null || echo '?')" \
	"$(go env GOVERSION)" "${JSON_OUT:-}" "${modes[@]}" <<'PY'
import json, os, sys

resdir, redis_version, ncpu, gover, json_out = sys.argv[1:6]
modes = sys.argv[6:]

def load(system, mode):
    p = os.path.join(resdir, f"{system}-{mode}.json")
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

# Figures in display order; lower is better for all but tasks_per_s.
figures = ["tasks_per_s", "redis_cpu_us_per_task", "redis_cmds_per_task",
           "round_trips_per_task", "lateness_p50_ms", "lateness_p99_ms",
           "lateness_max_ms", "release_p99_ms", "idle_cmds_per_s",
           "redis_bytes_per_task", "claim_ms", "seconds"]
setup = ["tasks", "workers", "daemons", "system", "mode", "n", "c"]

def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    return str(v)

def target(mode, fig, d, a, p):
    """SPEC §8 target for one figure, and whether dueq meets it."""
    def verdict(ok):
        return "" if ok is None else (" **met**" if ok else " **NOT met**")
    if d is None:
        return ""
    if mode == "throughput" and fig == "tasks_per_s":
        parts, oks = [], []
        if a:
            parts.append("≥ 3x asynq"); oks.append(d >= 3 * a)
        if p:
            parts.append(f"≥ 70% limitprobe ({100 * d / p:.0f}%)"); oks.append(d >= 0.7 * p)
        return ", ".join(parts) + verdict(all(oks) if oks else None)
    if mode == "throughput" and fig == "redis_cpu_us_per_task":
        return "≤ asynq / 3" + verdict(d <= a / 3 if a else None)
    if mode == "throughput" and fig == "round_trips_per_task":
        return "≤ 2" + verdict(d <= 2)
    if mode == "throughput" and fig == "redis_cmds_per_task":
        return "well under asynq" + verdict(d < a if a else None)
    if mode == "lateness" and fig == "lateness_p99_ms":
        return "≤ 2 ms" + verdict(d <= 2)
    if mode == "lateness" and fig == "lateness_max_ms":
        return "≤ 10 ms" + verdict(d <= 10)
    if mode == "dag" and fig == "release_p99_ms":
        return "≤ 2 ms" + verdict(d <= 2)
    if mode == "idle" and fig == "idle_cmds_per_s":
        return "≤ 1 per daemon" + verdict(d <= 1)
    if mode == "scale" and fig == "tasks_per_s":
        return "bulk submit ≥ 100,000/s" + verdict(d >= 100000)
    if mode == "scale" and fig == "redis_bytes_per_task":
        return "< asynq" + verdict(d < a if a else None)
    if mode == "scale" and fig == "claim_ms":
        small = load("dueq", "scale-small")
        if small and small.get("claim_ms"):
            s = small["claim_ms"]
            return (f"≤ 1.5x of {fmt(s)} ms at {small['tasks']:,} tasks ({d / s:.2f}x)" +
                    verdict(d <= 1.5 * s))
    return ""

rows, everything = [], []
for mode in modes:
    d, a = load("dueq", mode), load("asynq", mode)
    p = load("limitprobe", mode)
    everything += [r for r in (d, a, p) if r]
    shown = d or a or {}
    cfg = ", ".join(f"{k} {shown[k]}" for k in ("tasks", "workers", "daemons") if shown.get(k))
    label = f"{mode}" + (f" ({cfg})" if cfg else "")
    extra = sorted({k for r in (d, a) if r for k, v in r.items()
                    if k not in figures and k not in setup})
    for fig in figures + extra:
        dv = (d or {}).get(fig)
        av = (a or {}).get(fig)
        pv = (p or {}).get(fig)
        if dv is None and av is None:
            continue
        ratio = "–"
        if isinstance(dv, (int, float)) and isinstance(av, (int, float)) and av:
            r = dv / av
            ratio = f"{r:.1f}x" if r >= 10 else f"{r:.2f}x" if r >= 0.1 else f"{r:.2g}x"
        if fig == "seconds":
            ratio = "–"
        rows.append((label, fig, fmt(dv), fmt(av), ratio,
                     fmt(pv) if p else "", target(mode, fig, dv, av, pv)))
        label = ""

print(f"redis-server {redis_version}, {ncpu} CPUs, {gover}; asynq v0.26.0 with its defaults; "
      "limitprobe -b 8 (claims and finishes batched by 8). "
      "Ratio is dueq / asynq: above 1 is better for tasks_per_s, below 1 for every other figure.")
print()
print("| mode | figure | dueq | asynq | dueq / asynq | limitprobe -b 8 | SPEC §8 target |")
print("|---|---|--:|--:|--:|--:|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
if not rows:
    print("| (no results) | | | | | | |")

if json_out:
    with open(json_out, "w") as f:
        json.dump(everything, f, indent=1)
PY
