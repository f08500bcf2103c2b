#!/usr/bin/env bash
# Checkpoint and restore with CRIU, with tong and with runc as the oracle (the
# same checks on both). Runs where `criu check` passes: in a hack/vm guest
# (Debian's 6.1 kernel); on a kernel where it fails (this host's 6.18) it
# prints SKIP with criu's reason and exits 0, or 1 under TONG_TEST_FULL=1.
#   hack/vm run -- tests/vm/criu.sh [--runtimes "tong runc"] [--cases "counter tty failures"]
# Needs `cargo build --release --workspace` first (hack/tong-path release tong).
#
# Containers write to anonymous pipes (CRIU cannot dump a file of another
# mount namespace as stdio, with either runtime): `( RT run -d … 2>&1 ) | cat
# >>LOG &`, so runtime errors land in LOG too, and numbers are the counter.
set -uo pipefail
cd "$(dirname "$0")/../.."
tree=$PWD
runtimes="tong runc"
cases="counter tty failures"
while [ $# -gt 0 ]; do
	case $1 in
	--runtimes) runtimes=$2; shift 2 ;;
	--cases) cases=$2; shift 2 ;;
	*) echo "usage: $0 [--runtimes LIST] [--cases LIST]" >&2; exit 2 ;;
	esac
done

if ! out=$(criu check 2>&1); then
	why=$(grep -o 'Error ([^)]*): .*' <<<"$out" | sed 's/^Error ([^)]*): //' | paste -sd ';' -)
	echo "SKIP criu: criu check fails on this kernel ($(uname -r)): ${why:-$out}"
	[ "${TONG_TEST_FULL:-0}" = 1 ] && { echo "criu: FAILED (TONG_TEST_FULL=1: a skip is a failure)"; exit 1; }
	exit 0
fi

tong=$(hack/tong-path release tong)
work=$(mktemp -d /tmp/criu-test.XXXXXX)
fails=0
declare -A result
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
info() { echo "info $*"; }

cleanup() {
	for r in "$work"/root-*; do
		[ -d "$r" ] || continue
		for id in $(ls "$r" 2>/dev/null); do
			$tong --root "$r" delete -f "$id" >/dev/null 2>&1
			runc --root "$r" delete -f "$id" >/dev/null 2>&1
		done
	done
	pkill -P $$ >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

bin() { [ "$1" = tong ] && echo "$tong" || command -v runc; }

# The console socket receiver: keeps the pty master it is sent and copies
# what the container writes to it into OUT until the terminal goes away.
cat >"$work/console.py" <<'EOF'
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
c, _ = s.accept()
_, fds, _, _ = socket.recv_fds(c, 1024, 1)
with open(out, "ab", buffering=0) as f:
    while True:
        try:
            d = os.read(fds[0], 4096)
        except OSError:
            break
        if not d:
            break
        f.write(d)
EOF

nums() { grep -aoE '^[0-9]+' "$1" 2>/dev/null; }
count() { nums "$1" | wc -l; }
last() { nums "$1" | tail -1; }
first() { nums "$1" | head -1; }
# wait_until SECONDS CMD...: polls CMD every 0.2 s.
wait_until() {
	local t=$(($1 * 5)); shift
	while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.2; t=$((t - 1)); done
	return 1
}
# more_than LOG N: LOG holds more than N numbers. A function, so that
# wait_until counts again at each poll: `wait_until 60 test "$(count LOG)"
# -gt N` counted once, before the first poll, and so waited out the whole
# minute whenever no line had come in the instant before (the "stalls" of
# ~90 s once blamed on TCG timers: the counter was counting all along).
more_than() { test "$(count "$1")" -gt "$2"; }
# grows LOG: the counter writes a new number within 30 s (one every 0.2 s
# when it runs); if not, what the container's processes are doing is printed.
grows() {
	local n; n=$(count "$1")
	wait_until 30 more_than "$1" "$n" && return 0
	stall_diag "$1"
	return 1
}
# stall_diag LOG: the container's processes (state, wait channel, syscall,
# kernel stack), its cgroup's freeze state, the log's end and who holds the
# pipe the counter writes to.
stall_diag() {
	local cg p procs first pipe q
	info "stall: no count for 30 s; load $(cut -d' ' -f1-4 /proc/loadavg)"
	# (cgroupfs files read as size 0: test the content, not -s.)
	for cg in $(find /sys/fs/cgroup -mindepth 2 -name cgroup.procs); do
		case $cg in */system.slice/* | */init.scope/* | */user.slice/*) continue ;; esac
		procs=$(cat "$cg" 2>/dev/null)
		[ -n "$procs" ] || continue
		info "stall:   $(dirname "$cg"): $(paste -sd' ' "$(dirname "$cg")/cgroup.events") freeze=$(cat "$(dirname "$cg")/cgroup.freeze" 2>&1)"
		for p in $procs; do
			[ -n "${first:-}" ] || first=$p
			info "stall:     $p $(ps -o stat=,psr=,wchan:22=,args= -p "$p") syscall $(cut -d' ' -f1-3 /proc/$p/syscall 2>&1)"
			info "stall:       stack: $(paste -sd' ' /proc/$p/stack 2>&1 | cut -c1-300)"
		done
	done
	info "stall:   $(basename "$1"): $(stat -c %s "$1") bytes, ends $(tail -c 30 "$1" | tr '\n' ' ')"
	pipe=$(readlink "/proc/${first:-0}/fd/1" 2>/dev/null) || return 0
	for q in /proc/[0-9]*; do
		ls -l "$q/fd" 2>/dev/null | grep -q -F "$pipe" || continue
		info "stall:   $pipe held by ${q#/proc/}: $(ps -o stat=,wchan:22=,args= -p "${q#/proc/}" | cut -c1-80)"
	done
}
has() { [ -e "$1" ]; }
at_least() { test "$(count "$1")" -ge "$2"; }

# bundle DIR ARGS [tty]: a busybox bundle running ARGS.
bundle() {
	hack/mkbundle "$1" --args "$2" ${3:+--tty} >/dev/null
}
COUNTER='sh -c "i=0; while true; do echo $i; i=$((i+1)); sleep 0.2; done"'

# bg LOG CMD...: CMD with stdout+stderr on a pipe into LOG; LOG.rc gets its code.
bg() {
	local log=$1; shift
	( "$@" </dev/null 2>&1; echo $? >"$log.rc" ) | cat >>"$log" &
	wait_until 120 test -s "$log.rc"
	return "$(cat "$log.rc")"
}

state_of() { "$(bin "$1")" --root "$2" state "$3" 2>&1; }
pid_of() { state_of "$@" | sed -n 's/.*"pid": \([0-9]*\).*/\1/p'; }
status_of() { state_of "$@" | sed -n 's/.*"status": "\([a-z]*\)".*/\1/p'; }
# status_is RT ROOT ID STATUS (a command, for wait_until).
status_is() { test "$(status_of "$1" "$2" "$3")" = "$4"; }

# running RT ROOT ID WHAT [OLD-ID]: the container runs, in its own cgroup,
# and exec works. OLD-ID: runc 1.1.5 restores into the checkpointed
# container's cgroup, not the new id's: reported, not failed (the oracle's bug).
running() {
	local rt=$1 root=$2 id=$3 what=$4 old=${5:-} pid cg out
	pid=$(pid_of "$rt" "$root" "$id")
	[ "$(status_of "$rt" "$root" "$id")" = running ] || { fail "$rt $what: status $(status_of "$rt" "$root" "$id")"; return 1; }
	cg=$(cat "/proc/$pid/cgroup" 2>&1)
	if [ "$rt" = runc ] && [ -n "$old" ] && [ "$cg" = "0::/$old" ]; then
		info "runc $what: restored into the old container's cgroup /$old, not /$id (runc 1.1.5; tong uses the new id's)"
	elif [ "$cg" != "0::/$id" ]; then
		fail "$rt $what: init $pid in cgroup $cg, not /$id"; return 1
	fi
	out=$("$(bin "$rt")" --root "$root" exec "$id" sh -c 'echo exec-ok' 2>&1)
	[ "$out" = exec-ok ] || { fail "$rt $what: exec: $out"; return 1; }
	return 0
}

# gone RT ROOT ID: no container, no cgroup.
gone() {
	local rt=$1 root=$2 id=$3
	local st; st=$(state_of "$rt" "$root" "$id")
	grep -q 'does not exist' <<<"$st" && [ ! -e "/sys/fs/cgroup/$id" ] && [ ! -e "$root/$id" ]
}

# counter: checkpoint a counter and restore it under its id (the counter goes
# on from the next number, with a new pid, state running, exec works), then
# checkpoint the restored one with --leave-running (it keeps counting) and
# restore that image into a new id after deleting it.
case_counter() {
	local rt=$1 R=$(bin "$1") d="$work/counter-$1" id="ck-$1-$$" root="$work/root-counter-$1"
	mkdir -p "$d"; bundle "$d/b" "$COUNTER"
	(cd "$d/b" && bg "$d/log1" "$R" --root "$root" run -d "$id") || { fail "$rt counter: run: $(cat "$d/log1")"; return; }
	wait_until 30 at_least "$d/log1" 5
	local oldpid t0=$SECONDS
	oldpid=$(pid_of "$rt" "$root" "$id")
	if ! out=$("$R" --root "$root" checkpoint --image-path "$d/img1" --work-path "$d/work1" "$id" 2>&1); then
		fail "$rt counter: checkpoint: $(tail -3 <<<"$out")"; return
	fi
	local tck=$((SECONDS - t0)) n1; n1=$(last "$d/log1"); sleep 1
	if gone "$rt" "$root" "$id" && [ "$(last "$d/log1")" = "$n1" ] && [ ! -e "/proc/$oldpid" ]; then
		ok "$rt counter: checkpoint (${tck}s): the container is gone (state: does not exist), the counter stopped at $n1"
	else
		fail "$rt counter: after checkpoint: state=$(state_of "$rt" "$root" "$id" | tr -d '\n') last=$(last "$d/log1")"
	fi
	[ -s "$d/img1/descriptors.json" ] && ok "$rt counter: descriptors.json $(cat "$d/img1/descriptors.json")" || fail "$rt counter: no descriptors.json"
	t0=$SECONDS
	(cd "$d/b" && bg "$d/log2" "$R" --root "$root" restore -d --image-path "$d/img1" --work-path "$d/work1" --pid-file "$d/pid" "$id") ||
		{ fail "$rt counter: restore: $(tail -5 "$d/log2")"; return; }
	local trs=$((SECONDS - t0)) pid; pid=$(pid_of "$rt" "$root" "$id")
	wait_until 20 at_least "$d/log2" 3
	if [ "$(first "$d/log2")" = "$((n1 + 1))" ] && [ "$(cat "$d/pid")" = "$pid" ] && [ "$pid" != "$oldpid" ] && grows "$d/log2" &&
		running "$rt" "$root" "$id" "counter restore"; then
		ok "$rt counter: restore (${trs}s): counts on from $((n1 + 1)) as pid $pid (pid file), running, in /$id, exec works"
	else
		fail "$rt counter: restore: first=$(first "$d/log2") want $((n1 + 1)), pid=$pid pidfile=$(cat "$d/pid" 2>&1) old=$oldpid"
	fi
	# A pre-dump, then a dump on top of it (--parent-path) with
	# --leave-running, on the restored container.
	local before after
	before=$(last "$d/log2")
	if out=$("$R" --root "$root" checkpoint --pre-dump --image-path "$d/parent" "$id" 2>&1) &&
		[ "$(status_of "$rt" "$root" "$id")" = running ] && grows "$d/log2"; then
		ok "$rt pre-dump: images in parent/, still running and counting"
	else
		fail "$rt pre-dump: $(tail -3 <<<"$out") status=$(status_of "$rt" "$root" "$id") count=$(count "$d/log2") last=$(last "$d/log2"); $(ps -o pid,stat,wchan:20,args --ppid "$(pid_of "$rt" "$root" "$id")" 2>&1 | tail -3 | paste -sd' ')"; cp -r "$d/parent" "$tree/target/x/" 2>/dev/null; return
	fi
	if ! out=$("$R" --root "$root" checkpoint --leave-running --parent-path ../parent --image-path "$d/img2" "$id" 2>&1); then
		fail "$rt leave-running dump on the pre-dump: $(tail -3 <<<"$out")"; return
	fi
	if [ "$(status_of "$rt" "$root" "$id")" = running ] && [ "$(pid_of "$rt" "$root" "$id")" = "$pid" ] && grows "$d/log2" && [ -L "$d/img2/parent" ]; then
		ok "$rt dump --leave-running --parent-path ../parent: still running as pid $pid, counting; img2/parent -> $(readlink "$d/img2/parent")"
	else
		fail "$rt leave-running: status=$(status_of "$rt" "$root" "$id") pid=$(pid_of "$rt" "$root" "$id") parent: $(ls -l "$d/img2/parent" 2>&1)"
	fi
	"$R" --root "$root" delete -f "$id"
	after=$(last "$d/log2")
	# Restore into a new id: it goes on from the moment of the checkpoint.
	local id2="$id-b"
	(cd "$d/b" && bg "$d/log3" "$R" --root "$root" restore -d --image-path "$d/img2" "$id2") ||
		{ fail "$rt new id: restore: $(tail -5 "$d/log3")"; return; }
	wait_until 20 at_least "$d/log3" 2
	local f; f=$(first "$d/log3")
	if [ -n "$f" ] && [ "$f" -gt "$before" ] && [ "$f" -le "$((after + 1))" ] && grows "$d/log3" && running "$rt" "$root" "$id2" "new id" "$id"; then
		ok "$rt new id: restored as $id2 from the pre-dump + dump, counts on from $f (checkpoint taken between $before and $after)"
	else
		fail "$rt new id: first=$f, want in ($before, $((after + 1))]"
	fi
	"$R" --root "$root" delete -f "$id2"
	gone "$rt" "$root" "$id2" && ok "$rt counter: delete left nothing" || fail "$rt counter: left behind after delete"
}

# tty: a container with a terminal (--console-socket) and a bind mount of a
# host directory; restored with a new console socket, the counter in the
# bind-mounted file goes on and its terminal output reaches the new socket.
case_tty() {
	local rt=$1 R=$(bin "$1") d="$work/tty-$1" id="tt-$1-$$" root="$work/root-tty-$1"
	mkdir -p "$d/data"
	bundle "$d/b" 'sh -c "i=0; while true; do echo $i >/data/count; echo tty$i; i=$((i+1)); sleep 0.2; done"' tty
	python3 - "$d/b/config.json" "$d/data" <<-'EOF'
	import json, sys
	c = json.load(open(sys.argv[1]))
	c["mounts"].append({"destination": "/data", "type": "bind", "source": sys.argv[2], "options": ["rbind", "rw"]})
	json.dump(c, open(sys.argv[1], "w"))
	EOF
	python3 "$work/console.py" "$d/sock1" "$d/tty1" &
	wait_until 10 has "$d/sock1"
	(cd "$d/b" && "$R" --root "$root" run -d --console-socket "$d/sock1" "$id" </dev/null >"$d/run.log" 2>&1) ||
		{ fail "$rt tty: run: $(cat "$d/run.log")"; return; }
	wait_until 20 grep -q tty3 "$d/tty1"
	if ! out=$("$R" --root "$root" checkpoint --image-path "$d/img" "$id" 2>&1); then
		fail "$rt tty: checkpoint: $(tail -3 <<<"$out")"; "$R" --root "$root" delete -f "$id"; return
	fi
	local n1; n1=$(cat "$d/data/count")
	python3 "$work/console.py" "$d/sock2" "$d/tty2" &
	wait_until 10 has "$d/sock2"
	if ! (cd "$d/b" && "$R" --root "$root" restore -d --console-socket "$d/sock2" --image-path "$d/img" "$id" </dev/null >"$d/restore.log" 2>&1); then
		fail "$rt tty: restore: $(tail -5 "$d/restore.log")"; return
	fi
	wait_until 20 grep -q "tty$((n1 + 2))" "$d/tty2"
	local pid tty0; pid=$(pid_of "$rt" "$root" "$id"); tty0=$(readlink "/proc/$pid/fd/0")
	if grep -q "tty$((n1 + 1))" "$d/tty2" && [ "$(cat "$d/data/count")" -gt "$n1" ] && [[ $tty0 == /dev/pts/* ]] &&
		running "$rt" "$root" "$id" "tty restore"; then
		ok "$rt tty + bind mount: restored on the new console socket (stdin $tty0), /data/count went on from $n1, tty output tty$((n1 + 1))…"
	else
		fail "$rt tty + bind mount: count=$(cat "$d/data/count") (was $n1), stdin=$tty0, new terminal got: $(tr -d '\r' <"$d/tty2" | tail -2 | paste -sd' ')"
	fi
	"$R" --root "$root" delete -f "$id"
}

# failures: nothing is left behind, a running container stays as it was.
case_failures() {
	local rt=$1 R=$(bin "$1") d="$work/fail-$1" root="$work/root-fail-$1" id out rc
	mkdir -p "$d"; bundle "$d/b" "$COUNTER"
	# Restore from image dirs that hold no checkpoint.
	id="bad-$rt-$$"
	printf '["/dev/null","/dev/null","/dev/null"]' >"$d/descr-only.json"
	mkdir -p "$d/descr-only"; cp "$d/descr-only.json" "$d/descr-only/descriptors.json"
	for img in "$d/missing" "$d/descr-only"; do
		out=$(cd "$d/b" && "$R" --root "$root" restore -d --image-path "$img" "$id" </dev/null 2>&1); rc=$?
		if [ $rc -ne 0 ] && gone "$rt" "$root" "$id" && ! pgrep -x criu >/dev/null; then
			ok "$rt restore from $(basename "$img"): exit $rc, nothing left ($(grep -v '^\(time=.*level=warning\|---\)' <<<"$out" | tail -1 | cut -c1-150))"
		else
			fail "$rt restore from $(basename "$img"): exit $rc, state: $(state_of "$rt" "$root" "$id" | tr -d '\n')"
		fi
		"$R" --root "$root" delete -f "$id" >/dev/null 2>&1
	done
	# A created (not started) and a stopped container are refused.
	id="cr-$rt-$$"
	(cd "$d/b" && "$R" --root "$root" create "$id" </dev/null >/dev/null 2>&1)
	out=$("$R" --root "$root" checkpoint --image-path "$d/img-c" "$id" 2>&1); rc=$?
	if [ $rc -ne 0 ] && grep -qi 'cannot be checkpointed in created state' <<<"$out" && [ "$(status_of "$rt" "$root" "$id")" = created ]; then
		ok "$rt checkpoint of a created container: exit $rc ($(tail -1 <<<"$out" | sed 's/.*msg=//')), still created"
	else
		fail "$rt checkpoint of a created container: exit $rc: $out; status $(status_of "$rt" "$root" "$id")"
	fi
	"$R" --root "$root" delete -f "$id" >/dev/null 2>&1
	id="st-$rt-$$"
	bundle "$d/b2" true
	(cd "$d/b2" && "$R" --root "$root" run -d "$id" </dev/null >/dev/null 2>&1)
	wait_until 10 status_is "$rt" "$root" "$id" stopped
	out=$("$R" --root "$root" checkpoint --image-path "$d/img-s" "$id" 2>&1); rc=$?
	if [ $rc -ne 0 ] && grep -qi 'cannot be checkpointed in stopped state' <<<"$out" && [ "$(status_of "$rt" "$root" "$id")" = stopped ]; then
		ok "$rt checkpoint of a stopped container: exit $rc, still stopped"
	else
		fail "$rt checkpoint of a stopped container: exit $rc: $out"
	fi
	"$R" --root "$root" delete -f "$id" >/dev/null 2>&1
	# criu missing: a clear error, the container untouched.
	id="run-$rt-$$"
	(cd "$d/b" && bg "$d/log" "$R" --root "$root" run -d "$id") || { fail "$rt failures: run: $(cat "$d/log")"; return; }
	out=$(PATH=/nonexistent "$R" --root "$root" checkpoint --image-path "$d/img-n" "$id" 2>&1); rc=$?
	if [ $rc -ne 0 ] && grep -q 'criu' <<<"$out" && [ "$(status_of "$rt" "$root" "$id")" = running ]; then
		ok "$rt checkpoint without criu in PATH: exit $rc ($(tail -1 <<<"$out" | sed 's/.*msg=//'))"
	else
		fail "$rt checkpoint without criu: exit $rc: $out"
	fi
	# criu killed in the middle of a dump: the container runs on, thawed.
	local big="$d/big"; bundle "$big" 'sh -c "x=$(yes | head -c 30000000); i=0; while true; do echo $i; i=$((i+1)); sleep 0.2; done"'
	id="kill-$rt-$$"
	(cd "$big" && bg "$d/logk" "$R" --root "$root" run -d "$id") || { fail "$rt kill: run: $(cat "$d/logk")"; return; }
	wait_until 60 at_least "$d/logk" 2
	"$R" --root "$root" checkpoint --image-path "$d/img-k" "$id" >"$d/ck-kill.log" 2>&1 &
	local ck=$!
	# Killed as soon as it shows: an idle guest dumps the 30 MB in well under
	# a second (a later kill found the dump done, with either runtime).
	wait_until 30 pgrep -x criu >/dev/null
	local killed; killed=$(pgrep -x criu | tr '\n' ' ')
	pkill -9 -x criu
	wait $ck; rc=$?
	sleep 1
	local frozen; frozen=$(cat "/sys/fs/cgroup/$id/cgroup.freeze" 2>&1)
	if [ $rc -ne 0 ] && [ -n "$killed" ] && [ "$(status_of "$rt" "$root" "$id")" = running ] && [ "$frozen" = 0 ] &&
		grows "$d/logk" && running "$rt" "$root" "$id" "criu killed"; then
		ok "$rt criu killed mid-dump (pid $killed): checkpoint exit $rc, container running, thawed, counting, exec works"
	else
		fail "$rt criu killed mid-dump: exit $rc, killed '$killed', status $(status_of "$rt" "$root" "$id"), cgroup.freeze=$frozen, $(tail -2 "$d/ck-kill.log")"
	fi
	"$R" --root "$root" delete -f "$id" >/dev/null 2>&1
	id="run-$rt-$$"
	"$R" --root "$root" delete -f "$id" >/dev/null 2>&1
	gone "$rt" "$root" "$id" && ok "$rt failures: nothing left behind" || fail "$rt failures: $id left behind"
}

echo "criu $(criu --version | sed -n 's/Version: //p'), kernel $(uname -r), $(stat -fc %T /sys/fs/cgroup)"
for c in $cases; do
	for rt in $runtimes; do
		t0=$SECONDS
		"case_$c" "$rt"
		echo "---- $c with $rt: $((SECONDS - t0))s"
	done
done
if pgrep -x criu >/dev/null; then fail "criu processes left: $(pgrep -x criu | tr '\n' ' ')"; fi
echo
if [ $fails -eq 0 ]; then echo "criu: all passed"; else echo "criu: $fails failed"; fi
[ $fails -eq 0 ]
