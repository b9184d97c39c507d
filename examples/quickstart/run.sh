#!/usr/bin/env bash
# The Midstream quickstart: sync hr.csv to the example receiver application.
#
#   examples/quickstart/run.sh [--keep]        build, start the receiver, sync hr.csv, show what it holds
#   examples/quickstart/run.sh v2 [--keep]     replace the export with hr-v2.csv (a month later), sync again
#   examples/quickstart/run.sh sync [--keep]   sync again after you edit .work/pipeline/hr.csv
#   examples/quickstart/run.sh stop            stop a receiver left running by --keep
#
# Everything is written under examples/quickstart/.work (QUICKSTART_WORK to
# change it): the binaries, the pipeline folder the hub syncs (a copy of
# pipeline.hcl and hr.csv), the hub's database and the receiver's data.
# --keep (or QUICKSTART_KEEP=1) leaves the receiver running, to browse
# http://127.0.0.1:8471/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${QUICKSTART_WORK:-$here/.work}
addr=${QUICKSTART_ADDR:-127.0.0.1:8471}
# pipeline.hcl reads the receiver's URL from QUICKSTART_URL (same default).
export QUICKSTART_URL=http://$addr/callback
export QUICKSTART_TOKEN=${QUICKSTART_TOKEN:-quickstart-token}
export QUICKSTART_ENCRYPTION_KEY=${QUICKSTART_ENCRYPTION_KEY:-quickstart-aes-k}
export QUICKSTART_SIGNATURE_KEY=${QUICKSTART_SIGNATURE_KEY:-quickstart-signature-key}

mode=start
keep=${QUICKSTART_KEEP:-0}
for arg in "$@"; do
	case $arg in
	start | v2 | sync | stop) mode=$arg ;;
	--keep) keep=1 ;;
	-h | --help)
		sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "run.sh: unknown argument $arg (try --help)" >&2
		exit 2
		;;
	esac
done

bin=$work/bin
pidfile=$work/receiver.pid
started=""

if [[ -t 1 ]]; then
	say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
else
	say() { printf '\n==> %s\n' "$*"; }
fi

running() { [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

stop_receiver() {
	if running; then
		local pid
		pid=$(cat "$pidfile")
		kill "$pid"
		# It finishes the requests in flight, then exits.
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$pidfile"
}

cleanup() {
	if [[ -n $started && $keep != 1 ]]; then
		stop_receiver
	fi
}
trap cleanup EXIT

start_receiver() {
	if running; then
		echo "receiver already running (pid $(cat "$pidfile"))"
		return
	fi
	: >"$work/receiver.log"
	nohup "$bin/receiver" serve --addr "$addr" --token "$QUICKSTART_TOKEN" --data "$work/receiver.json" \
		--encryption-key "$QUICKSTART_ENCRYPTION_KEY" --signature-key "$QUICKSTART_SIGNATURE_KEY" \
		>>"$work/receiver.log" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$pidfile"
	started=$pid
	for _ in $(seq 100); do
		if grep -q '^listening on ' "$work/receiver.log"; then
			grep '^listening on ' "$work/receiver.log"
			return
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$pidfile"
			started=""
			echo "run.sh: the receiver did not start:" >&2
			cat "$work/receiver.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "run.sh: the receiver did not listen within 10s; see $work/receiver.log" >&2
	exit 1
}

build() {
	say "Building midstream and receiver into $bin"
	command -v go >/dev/null || {
		echo "run.sh: needs Go (https://go.dev/dl/)" >&2
		exit 1
	}
	mkdir -p "$bin"
	(cd "$repo" && go build -o "$bin/midstream" ./cmd/midstream && go build -o "$bin/receiver" ./examples/receiver)
}

sync_and_dump() {
	say "Syncing $work/pipeline"
	"$bin/midstream" sync --db "$work/midstream.db" "$work/pipeline"
	say "What the receiver holds ($bin/receiver dump --data $work/receiver.json)"
	"$bin/receiver" dump --data "$work/receiver.json"
}

# Puts a file in place as HR systems should: a copy under a temporary name,
# renamed over the old one, so a sync never reads half of it.
install_export() {
	cp "$1" "$2.tmp"
	mv "$2.tmp" "$2"
}

case $mode in
stop)
	stop_receiver
	exit 0
	;;
start)
	stop_receiver # a receiver kept from an earlier run holds the data about to be reset
	rm -rf "$work/pipeline" "$work/midstream.db"* "$work/receiver.json" "$work/receiver.log"
	mkdir -p "$work/pipeline"
	cp "$here/pipeline.hcl" "$work/pipeline/"
	install_export "$here/hr.csv" "$work/pipeline/hr.csv"
	build
	say "Starting the receiver"
	start_receiver
	sync_and_dump
	;;
v2 | sync)
	if [[ ! -f $work/pipeline/pipeline.hcl ]]; then
		echo "run.sh: run examples/quickstart/run.sh first" >&2
		exit 1
	fi
	if [[ $mode == v2 ]]; then
		say "A month later: hr-v2.csv replaces $work/pipeline/hr.csv"
		install_export "$here/hr-v2.csv" "$work/pipeline/hr.csv"
	fi
	build
	say "Starting the receiver"
	start_receiver
	sync_and_dump
	;;
esac

if [[ $keep == 1 ]]; then
	say "The receiver is still running: open http://$addr/ (stop it with $0 stop)"
else
	say "Done. Run again with --keep to browse the receiver's page at http://$addr/"
fi
