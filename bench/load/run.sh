#!/usr/bin/env bash
# Load, latency and soak of a real server on loopback, with real load
# tools: ghz for gRPC, vegeta for REST. `make load` runs it from the
# repository root. It writes docs/benchmarks.md (LOAD_REPORT names another
# file) and exits non-zero when a soak check fails or a tool cannot run.
#
# Traffic goes only to 127.0.0.1 (and from 127.0.0.2 for the wrong keys);
# every run is bounded in time. About 16 minutes with the defaults:
#   LOAD_ROUNDS=2          each measurement made this many times
#   LOAD_RUN_SECONDS=30    each enhance run
#   LOAD_CHEAP_SECONDS=10  each run of the cheap calls
#   LOAD_SOAK_SECONDS=180  the soak, after LOAD_WARMUP_SECONDS=30 of the
#                          same mix and LOAD_SETTLE_SECONDS=15 idle
#   LOAD_KEEP=1            keep the work folder (reports, server logs)
set -euo pipefail
cd "$(dirname "$0")/../.."

GHZ=github.com/bojand/ghz/cmd/ghz@v0.120.0
VEGETA=github.com/tsenart/vegeta/v12@v12.13.0
ROUNDS=${LOAD_ROUNDS:-2}
RUN_S=${LOAD_RUN_SECONDS:-30}
CHEAP_S=${LOAD_CHEAP_SECONDS:-10}
SOAK_S=${LOAD_SOAK_SECONDS:-180}
WARM_S=${LOAD_WARMUP_SECONDS:-30}
SETTLE_S=${LOAD_SETTLE_SECONDS:-15}
REPORT=${LOAD_REPORT:-docs/benchmarks.md}
NPROC=$(nproc)
ENHANCE_RATE=5    # enhances a second: below what the server does even on a busy machine, so no queueing
ENHANCE_CONC=4    # enhances in flight: two per image worker, within the queue (4 per worker)
CHEAP_RATE=200
CHEAP_CONC=8

W=$(mktemp -d "${TMPDIR:-/tmp}/load.XXXXXX")
RESULTS=$W/results.jsonl
COMMANDS=$W/commands.sh
SERVER_PID=
say() { printf '\n== %s\n' "$*"; }

stop_server() {
	if [ -n "$SERVER_PID" ]; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
}
cleanup() {
	stop_server
	if [ -n "${LOAD_KEEP:-}" ]; then echo "work folder kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'echo "run.sh: line $LINENO failed (status $?)" >&2' ERR

say "building the server, the helper and the tools ($GHZ, $VEGETA)"
go build -tags nodynamic -o bin/enhanced ./cmd/enhanced
go build -tags nodynamic -o bin/enhancectl ./cmd/enhancectl
go build -tags nodynamic -o "$W/load" ./bench/load
GOBIN=$PWD/bin/load-tools go install "$GHZ"
GOBIN=$PWD/bin/load-tools go install "$VEGETA"
PATH=$PWD/bin/load-tools:$PATH
LOAD=$W/load
DATA=$W/data
CA=$DATA/tls/ca.pem
mkdir -p "$DATA"
"$LOAD" inputs -photo testdata/images/kodim23.jpg -out "$W"

# start_server GOMAXPROCS: the server on loopback ports of its own (other
# work on this machine may hold the default ones), its addresses read from
# its banner, then /readyz awaited.
start_server() {
	local log=$W/server-$1-$(date +%s%N).log
	local cmd=(bin/enhanced --dev-account --data-dir "$DATA" --http-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0)
	GOMAXPROCS=$1 "${cmd[@]}" 2>"$log" >/dev/null &
	SERVER_PID=$!
	echo "GOMAXPROCS=$1 ${cmd[*]}" | sed "s|$W|\$W|g" >>"$COMMANDS"
	GOMAXPROCS_NOW=$1
	REST= GRPC= METRICS=
	for _ in $(seq 600); do
		REST=$(sed -n 's|^ *REST: *https://\(.*\)$|\1|p' "$log")
		GRPC=$(sed -n 's|^ *gRPC: *\(.*\)$|\1|p' "$log")
		METRICS=$(sed -n 's|^ *metrics: *\(http://.*\)$|\1|p' "$log")
		[ -n "$REST" ] && [ -n "$GRPC" ] && [ -n "$METRICS" ] && break
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; echo "the server exited" >&2; exit 1; }
		sleep 0.1
	done
	[ -n "$METRICS" ] || { cat "$log" >&2; echo "the server printed no addresses in 60 s" >&2; exit 1; }
	for _ in $(seq 600); do
		curl -fsS --cacert "$CA" "https://$REST/readyz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	curl -fsS --cacert "$CA" "https://$REST/readyz" >/dev/null
	KEY=$(cat "$DATA/dev-api-key")
	write_targets
	echo "server GOMAXPROCS=$1: REST https://$REST, gRPC $GRPC, $METRICS"
}

# write_targets writes vegeta's request files for the server now running.
write_targets() {
	local base=https://$REST
	target() { # name method path content-type body-file [key]
		{
			echo "$2 $base$3"
			if [ -n "${6-}" ]; then echo "x-api-key: $6"; fi
			if [ -n "$4" ]; then echo "Content-Type: $4"; fi
			if [ -n "$5" ]; then echo "@$5"; fi
		} >"$W/$1.targets"
	}
	target enhance POST /v1/enhance image/png "$W/small.png" "$KEY"
	target pricing GET /v1/pricing "" ""
	target usage GET "/v1/usage?pageSize=1" "" "" "$KEY"
	# A mistyped key: the development key with its last character changed.
	local last=A
	if [ "${KEY: -1}" = A ]; then last=B; fi
	target badkey POST /v1/enhance image/png "$W/small.png" "${KEY%?}$last"
	target notimage POST /v1/enhance image/png "$W/notimage.txt" "$KEY"
	target truncated POST /v1/enhance image/png "$W/truncated.png" "$KEY"
	target huge POST /v1/enhance image/png "$W/huge.png" "$KEY"
	target toolarge POST /v1/enhance image/png "$W/toolarge.png" "$KEY"
	target unknown GET /v1/nothing-here "" "" "$KEY"
}

# file PARTS...: a file name in the work folder made of PARTS.
file() { echo "$W/$(echo "$*" | tr -c 'A-Za-z0-9=.\n-' '_')"; }

# log_command ROUND CMD...: the command as run, the key and the work folder
# replaced, kept for the report (first round only).
log_command() {
	local round=$1
	shift
	if [ "$round" != 1 ]; then return 0; fi
	local arg line=
	for arg in "$@"; do
		# Quoted where a shell would need it (JSON, the pipe kept bare).
		case $arg in
		*[!A-Za-z0-9_./:=@%+,-]* | '') [ "$arg" = "|" ] || arg="'$arg'" ;;
		esac
		line+="$arg "
	done
	echo "${line% }" | sed -e "s|$KEY|\$KEY|g" -e "s|$W|\$W|g" -e "s|127\.0\.0\.1:[0-9]*|127.0.0.1:PORT|g" >>"$COMMANDS"
}

# grpc PHASE NAME LOAD ROUND [EXPECT] -- GHZ-ARGS: one ghz run, recorded.
grpc() {
	local phase=$1 name=$2 load=$3 round=$4 expect=$5
	shift 6
	local out
	out=$(file ghz "$phase" "$name" "$load" "$round").json
	local cmd=(ghz --cacert "$CA" -m "{\"x-api-key\":\"$KEY\"}" --count-errors -O json -o "$out" "$@" "$GRPC")
	[ "$phase" = warmup ] || log_command "$round" "${cmd[@]}"
	"${cmd[@]}"
	"$LOAD" record -results "$RESULTS" -tool ghz -phase "$phase" -name "$name" -door grpc -load "$load" \
		-round "$round" -gomaxprocs "$GOMAXPROCS_NOW" -expect "$expect" "$out"
}

# rest PHASE NAME LOAD ROUND EXPECT TARGETS -- VEGETA-ATTACK-ARGS: one vegeta run, recorded.
rest() {
	local phase=$1 name=$2 load=$3 round=$4 expect=$5 targets=$6
	shift 7
	local out
	out=$(file vegeta "$phase" "$name" "$load" "$round")
	local cmd=(vegeta attack -root-certs "$CA" -targets "$W/$targets.targets" "$@")
	[ "$phase" = warmup ] || log_command "$round" "${cmd[@]}" "|" vegeta report -type=json
	"${cmd[@]}" >"$out.bin"
	vegeta report -type=json "$out.bin" >"$out.json"
	"$LOAD" record -results "$RESULTS" -tool vegeta -phase "$phase" -name "$name" -door rest -load "$load" \
		-round "$round" -gomaxprocs "$GOMAXPROCS_NOW" -expect "$expect" "$out.json"
}

# The two ways of loading each door: a fixed rate, and a fixed number in flight.
grpc_rate() { grpc "$1" "$2" "$3/s" "$4" "" -- --call "$5" "${@:6}" -r "$3" -c 16 -z "${RUN_S_NOW}s" --duration-stop=wait; }
grpc_conc() { grpc "$1" "$2" "c=$3" "$4" "" -- --call "$5" "${@:6}" -c "$3" -z "${RUN_S_NOW}s" --duration-stop=wait; }
rest_rate() { rest "$1" "$2" "$3/s" "$4" "" "$5" -- -rate "$3/s" -duration "${RUN_S_NOW}s"; }
rest_conc() { rest "$1" "$2" "c=$3" "$4" "" "$5" -- -rate 0 -workers "$3" -max-workers "$3" -duration "${RUN_S_NOW}s"; }

ENHANCE=smartimage.enhance.v1.ImageService.Enhance
PRICING=smartimage.enhance.v1.UsageService.GetPricing
USAGE=smartimage.enhance.v1.UsageService.GetUsage

enhance_runs() { # phase round door [rate|conc|both]
	RUN_S_NOW=$RUN_S
	if [ "$3" = grpc ]; then
		[ "$4" = conc ] || grpc_rate "$1" enhance "$ENHANCE_RATE" "$2" "$ENHANCE" -b -B "$W/enhance.bin"
		[ "$4" = rate ] || grpc_conc "$1" enhance "$ENHANCE_CONC" "$2" "$ENHANCE" -b -B "$W/enhance.bin"
	else
		[ "$4" = conc ] || rest_rate "$1" enhance "$ENHANCE_RATE" "$2" enhance
		[ "$4" = rate ] || rest_conc "$1" enhance "$ENHANCE_CONC" "$2" enhance
	fi
}

cheap_runs() { # round door
	RUN_S_NOW=$CHEAP_S
	if [ "$2" = grpc ]; then
		grpc_rate cheap pricing "$CHEAP_RATE" "$1" "$PRICING" -d '{}'
		grpc_rate cheap usage "$CHEAP_RATE" "$1" "$USAGE" -d '{"page_size":1}'
		grpc_conc cheap pricing "$CHEAP_CONC" "$1" "$PRICING" -d '{}'
		grpc_conc cheap usage "$CHEAP_CONC" "$1" "$USAGE" -d '{"page_size":1}'
	else
		rest_rate cheap pricing "$CHEAP_RATE" "$1" pricing
		rest_rate cheap usage "$CHEAP_RATE" "$1" usage
		rest_conc cheap pricing "$CHEAP_CONC" "$1" pricing
		rest_conc cheap usage "$CHEAP_CONC" "$1" usage
	fi
}

warm_up() { # a few seconds of each door, not recorded
	ghz --cacert "$CA" -m "{\"x-api-key\":\"$KEY\"}" --call "$ENHANCE" -b -B "$W/enhance.bin" -c 2 -n 40 -O summary "$GRPC" >/dev/null
	vegeta attack -root-certs "$CA" -targets "$W/enhance.targets" -rate 20/s -duration 2s >/dev/null
}

say "the server, and its development account moved to the enterprise plan"
start_server "$NPROC"
# A million credits a month and 60,000 requests a minute: the free plan's
# 50 credits would run out in the first second. The running server sees
# the new plan within seconds; credits waits for it.
bin/enhancectl admin set-plan --email dev@localhost --plan enterprise --data-dir "$DATA"
echo 'bin/enhancectl admin set-plan --email dev@localhost --plan enterprise --data-dir $W/data' >>"$COMMANDS"
"$LOAD" credits -rest "https://$REST" -ca "$CA" -key-file "$DATA/dev-api-key" -plan enterprise >/dev/null
warm_up

for round in $(seq "$ROUNDS"); do
	# Doors alternate between rounds, so neither always goes first.
	doors="grpc rest"
	[ $((round % 2)) = 0 ] && doors="rest grpc"
	say "round $round: enhance of a 256×256 PNG ($doors)"
	for door in $doors; do enhance_runs latency "$round" "$door" both; done
	say "round $round: a public call against an authenticated one ($doors)"
	for door in $doors; do cheap_runs "$round" "$door"; done
done

for round in $(seq "$ROUNDS"); do
	procs="1 $NPROC"
	[ $((round % 2)) = 0 ] && procs="$NPROC 1"
	for p in $procs; do
		say "round $round: scaling, server at GOMAXPROCS=$p"
		stop_server
		start_server "$p"
		warm_up
		enhance_runs scaling "$round" grpc conc
		enhance_runs scaling "$round" rest conc
	done
done

say "soak: ${WARM_S} s warm-up, ${SETTLE_S} s idle, ${SOAK_S} s of mixed requests, ${SETTLE_S} s idle"
stop_server
start_server "$NPROC"
# soak_mix SECONDS PHASE: every kind of request at its own rate, each
# tool in the background; recorded when PHASE is soak.
soak_mix() {
	local secs=$1 phase=$2 pids=()
	RUN_S_NOW=$secs
	local rec=$phase
	[ "$phase" = soak ] || rec=warmup
	# Image calls may find the image workers and their queue full when
	# the machine is busy: a 429 at once, not charged; up to a tenth is
	# taken as the designed answer, more as a failure.
	local busy='429<10%' gbusy='ResourceExhausted<10%'
	(grpc "$rec" enhance 2/s 1 "OK,$gbusy" -- --call "$ENHANCE" -b -B "$W/enhance.bin" -r 2 -c 4 -z "${secs}s" --duration-stop=wait >/dev/null) & pids+=($!)
	(grpc "$rec" "cut PNG" 1/s 1 "InvalidArgument,$gbusy" -- --call "$ENHANCE" -b -B "$W/bad.bin" -r 1 -c 2 -z "${secs}s" --duration-stop=wait >/dev/null) & pids+=($!)
	(grpc "$rec" usage 2/s 1 OK -- --call "$USAGE" -d '{"page_size":1}' -r 2 -c 2 -z "${secs}s" --duration-stop=wait >/dev/null) & pids+=($!)
	(rest "$rec" enhance 2/s 1 "200,$busy" enhance -- -rate 2/s -duration "${secs}s" >/dev/null) & pids+=($!)
	# 15 a minute from an address of their own: under the throttle.
	(rest "$rec" "wrong key" 15/m 1 401 badkey -- -rate 15/1m -duration "${secs}s" -laddr 127.0.0.2 >/dev/null) & pids+=($!)
	(rest "$rec" "text as image" 30/m 1 "400,$busy" notimage -- -rate 30/1m -duration "${secs}s" >/dev/null) & pids+=($!)
	(rest "$rec" "cut PNG" 30/m 1 "400,$busy" truncated -- -rate 30/1m -duration "${secs}s" >/dev/null) & pids+=($!)
	(rest "$rec" "20000×20000 header" 30/m 1 "400,$busy" huge -- -rate 30/1m -duration "${secs}s" >/dev/null) & pids+=($!)
	(rest "$rec" "21 MiB body" 12/m 1 413 toolarge -- -rate 12/1m -duration "${secs}s" >/dev/null) & pids+=($!)
	(rest "$rec" "unknown route" 1/s 1 404 unknown -- -rate 1/s -duration "${secs}s" >/dev/null) & pids+=($!)
	(rest "$rec" pricing 2/s 1 200 pricing -- -rate 2/s -duration "${secs}s" >/dev/null) & pids+=($!)
	local failed=0
	for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
	[ "$failed" = 0 ] || { echo "a load tool failed during the $phase" >&2; exit 1; }
}
RESULTS_MAIN=$RESULTS
RESULTS=$W/warmup.jsonl
soak_mix "$WARM_S" warmup
RESULTS=$RESULTS_MAIN
sleep "$SETTLE_S"
"$LOAD" metrics -url "$METRICS" >"$W/before.tsv"
USED_BEFORE=$("$LOAD" credits -rest "https://$REST" -ca "$CA" -key-file "$DATA/dev-api-key")
"$LOAD" metrics -url "$METRICS" -every 5s -for "${SOAK_S}s" >"$W/during.tsv" &
SAMPLER=$!
soak_mix "$SOAK_S" soak
wait "$SAMPLER"
sleep "$SETTLE_S"
"$LOAD" metrics -url "$METRICS" >"$W/after.tsv"
USED_AFTER=$("$LOAD" credits -rest "https://$REST" -ca "$CA" -key-file "$DATA/dev-api-key")
stop_server
set +e
echo 'bin/enhancectl admin reconcile --data-dir $W/data   # after the soak, the server stopped' >>"$COMMANDS"
bin/enhancectl admin reconcile --data-dir "$DATA" >"$W/reconcile.txt" 2>&1
RECONCILE=$?
"$LOAD" soak -results "$RESULTS" -before "$W/before.tsv" -during "$W/during.tsv" -after "$W/after.tsv" \
	-credits-before "$USED_BEFORE" -credits-after "$USED_AFTER" \
	-reconcile "$W/reconcile.txt" -reconcile-status "$RECONCILE" -out "$W/soak.md"
SOAK=$?
set -e
awk '!seen[$0]++' "$COMMANDS" >"$COMMANDS.once"
"$LOAD" report -results "$RESULTS" -soak "$W/soak.md" -commands "$COMMANDS.once" -out "$REPORT"
exit "$SOAK"
