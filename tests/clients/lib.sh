# shellcheck shell=bash
# Common helpers for the client test scripts (podman.sh, containerd.sh, docker.sh).
#
# Sourced, not run.  Provides:
#   - argument parsing (--runtime NAME|PATH, --only REGEX, --keep, -v)
#   - a private temp dir $T with a cleanup trap (cleanup hooks run in reverse order)
#   - PASS/FAIL/SKIP accounting: tests are shell functions run by `t NAME FUNC`;
#     inside, use R (run a command with a timeout), expect_* and skip
#   - the busybox image build (rootfs tar, docker-archive with 1 or 2 layers)
#   - pty driving with a private tmux server
#   - cleanup helpers: kill by pid, umount everything under $T, rmdir cgroups,
#     and a leak check (mounts, processes, links, cgroups)

set -u
set -o pipefail
export LC_ALL=C
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

TC_PASS=0 TC_FAIL=0 TC_SKIP=0
TC_ONLY="" TC_KEEP=0 TC_VERBOSE=0
# tests that run even when --only excludes them (setup the others need)
TC_ALWAYS="^(image_import|cleanup)$"
RUNTIME=runc
TC_TOOL=${TC_TOOL:-client}
TC_CLEANUP_HOOKS=()
TC_FAILED_NAMES=()
TC_START=$(date +%s)
# every command gets this timeout (s); the whole script this budget (s): tests
# that would start after it are reported as FAIL (not run), so that a hanging
# runtime cannot hold CI; the cleanup check always runs
TC_CMD_TIMEOUT=${CLIENT_TEST_CMD_TIMEOUT:-20}
TC_BUDGET=${CLIENT_TEST_BUDGET:-180}

log() { echo "# $*" >&2; }
die() { echo "FATAL: $*" >&2; exit 2; }

tc_usage() {
	cat <<EOF
usage: $0 [--runtime runc|/path/to/tong] [--only REGEX] [--keep] [-v]
  --runtime   runtime binary (a name in PATH or a path); default runc
  --only      run only the tests whose name matches REGEX (setup always runs)
  --systemd-cgroup  the client drives the runtime's systemd cgroup driver
              (systemd as PID 1, pure cgroup v2: hack/vm run --systemd): podman's
              cgroup_manager=systemd, ctr's --runc-systemd-cgroup, dockerd's
              native.cgroupdriver=systemd
  --keep      keep the temp dir (daemons, mounts and containers are still cleaned)
  -v          print every command's output
EOF
}

tc_parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--runtime) RUNTIME=$2; shift 2 ;;
		--runtime=*) RUNTIME=${1#*=}; shift ;;
		--only) TC_ONLY=$2; shift 2 ;;
		--only=*) TC_ONLY=${1#*=}; shift ;;
		--keep) TC_KEEP=1; shift ;;
		--systemd-cgroup) SYSTEMD_CGROUP=1; shift ;;
		-v) TC_VERBOSE=1; shift ;;
		-h|--help) tc_usage; exit 0 ;;
		*) tc_usage >&2; exit 2 ;;
		esac
	done
	local p
	p=$(command -v "$RUNTIME" 2>/dev/null) || die "runtime $RUNTIME not found"
	RUNTIME_PATH=$(readlink -f "$p")
	# the name the tools know the runtime by: the basename of what was given
	RUNTIME_NAME=$(basename "$RUNTIME")
	[ -x "$RUNTIME_PATH" ] || die "runtime $RUNTIME_PATH is not executable"
	SYSTEMD_CGROUP=${SYSTEMD_CGROUP:-}
	export RUNTIME RUNTIME_PATH RUNTIME_NAME SYSTEMD_CGROUP
	if [ -n "$SYSTEMD_CGROUP" ]; then
		[ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && [ -d /run/systemd/system ] ||
			die "--systemd-cgroup needs systemd as PID 1 (hack/vm run --systemd)"
		[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || die "--systemd-cgroup needs a pure cgroup v2 host"
	fi
}

# ------------------------------------------------------------------ systemd scopes

# sd_prop UNIT PROPERTY: a unit property as systemctl shows it
sd_prop() { timeout 20 systemctl show "$1" -p "$2" --value 2>&1; }
# sd_units PATTERN: the units (any state) matching PATTERN
sd_units() { timeout 20 systemctl list-units --all --no-legend --plain "$1" 2>/dev/null | awk '{print $1}'; }
# sd_gone UNIT DIR: true once the unit is not listed and its cgroup directory is gone
sd_gone() {
	local i
	for i in $(seq 50); do
		[ -z "$(sd_units "$1")" ] && [ ! -d "$2" ] && return 0
		sleep 0.2
	done
	return 1
}
# sd_stop_units PATTERN: stop (kill) every unit matching PATTERN, and forget failed ones
sd_stop_units() {
	local u
	for u in $(sd_units "$1"); do
		timeout 20 systemctl kill -s KILL "$u" >/dev/null 2>&1
		timeout 20 systemctl stop "$u" >/dev/null 2>&1
		timeout 20 systemctl reset-failed "$u" >/dev/null 2>&1
	done
	return 0
}
# sd_expect_scope UNIT DIR MEM CPU_MAX PIDS: the scope is active, Delegate=yes,
# the unit properties and the cgroup files hold the limits (MEM bytes, CPU_MAX
# as cpu.max reads "QUOTA PERIOD", PIDS); an empty value is not checked
sd_expect_scope() {
	local u=$1 d=$2 mem=$3 cpu=$4 pids=$5
	expect_eq active "$(sd_prop "$u" ActiveState)" "$u ActiveState"
	expect_eq yes "$(sd_prop "$u" Delegate)" "$u Delegate"
	if [ -n "$mem" ]; then
		expect_eq "$mem" "$(sd_prop "$u" MemoryMax)" "$u MemoryMax"
		expect_eq "$mem" "$(cat "$d/memory.max" 2>&1)" "$d/memory.max"
	fi
	if [ -n "$cpu" ]; then
		local q=${cpu% *}
		expect_eq "$((q * 10 / 1000))ms" "$(sd_prop "$u" CPUQuotaPerSecUSec)" "$u CPUQuotaPerSecUSec"
		expect_eq "$cpu" "$(cat "$d/cpu.max" 2>&1)" "$d/cpu.max"
	fi
	if [ -n "$pids" ]; then
		expect_eq "$pids" "$(sd_prop "$u" TasksMax)" "$u TasksMax"
		expect_eq "$pids" "$(cat "$d/pids.max" 2>&1)" "$d/pids.max"
	fi
	return 0
}

# tc_init TOOL: private temp dir, unique run id, trap.
tc_init() {
	TC_TOOL=$1
	[ "$(id -u)" = 0 ] || die "must run as root"
	# short path: unix socket paths (<108 bytes) are built under it
	T=$(mktemp -d "/tmp/tgc-$TC_TOOL.XXXXXX") || die "mktemp"
	chmod 755 "$T"
	# 4 hex digits, unique enough between parallel runs; used in link/netns/cgroup names
	RUNID=$(printf '%04x' $(( (RANDOM ^ $$) & 0xffff )))
	export T RUNID
	trap 'tc_on_exit' EXIT
	trap 'echo "interrupted" >&2; exit 130' INT TERM HUP
	log "$TC_TOOL: runtime $RUNTIME_PATH ($("$RUNTIME_PATH" --version 2>&1 | head -1)), temp dir $T, run id $RUNID"
}

# add_cleanup 'shell code': run at exit, last added first
add_cleanup() { TC_CLEANUP_HOOKS+=("$1"); }

TC_CLEANED=0
tc_cleanup() {
	[ "$TC_CLEANED" = 1 ] && return 0
	TC_CLEANED=1
	local i
	for (( i=${#TC_CLEANUP_HOOKS[@]}-1; i>=0; i-- )); do
		eval "${TC_CLEANUP_HOOKS[$i]}" >/dev/null 2>&1 || true
	done
	pty_kill_server
	umount_under "$T"
	kill_procs_under "$T"
	umount_under "$T"
	if [ "$TC_KEEP" = 1 ]; then
		log "kept $T"
	else
		rm -rf --one-file-system "$T" 2>/dev/null || { umount_under "$T"; rm -rf --one-file-system "$T"; }
	fi
}

tc_on_exit() {
	local rc=$?
	trap - EXIT
	tc_cleanup
	exit $rc
}

# ------------------------------------------------------------------ accounting

# t NAME FUNC [ARGS...]: run one test
TC_CUR="" TC_CUR_STATUS="" TC_CUR_MSG=""
t() {
	local name=$1; shift
	if [ -n "$TC_ONLY" ] && ! [[ $name =~ $TC_ONLY ]] && ! [[ $name =~ $TC_ALWAYS ]]; then return 0; fi
	TC_CUR=$name TC_CUR_STATUS=pass TC_CUR_MSG=""
	local t0=$SECONDS
	if [ $(( $(date +%s) - TC_START )) -gt "$TC_BUDGET" ] && [ "$name" != cleanup ]; then
		fail "not run: the script's time budget of ${TC_BUDGET}s is spent (CLIENT_TEST_BUDGET)"
	else
		"$@"
	fi
	local dt=$(( SECONDS - t0 ))
	case $TC_CUR_STATUS in
	pass) TC_PASS=$((TC_PASS+1)); echo "PASS $name" ;;
	skip) TC_SKIP=$((TC_SKIP+1)); echo "SKIP $name ($TC_CUR_MSG)" ;;
	*) TC_FAIL=$((TC_FAIL+1)); TC_FAILED_NAMES+=("$name"); echo "FAIL $name"; printf '%s\n' "$TC_CUR_MSG" | sed 's/^/    /' | head -40 ;;
	esac
	[ "$TC_VERBOSE" = 1 ] && log "$name took ${dt}s"
	return 0
}

# record a failure (first one wins for the status, all messages kept)
fail() {
	TC_CUR_STATUS=fail
	TC_CUR_MSG+="${TC_CUR_MSG:+$'\n'}$*"
	return 1
}
skip() { [ "$TC_CUR_STATUS" = pass ] && { TC_CUR_STATUS=skip; TC_CUR_MSG=$*; }; return 0; }
failed() { [ "$TC_CUR_STATUS" = fail ]; }

tc_summary() {
	local dt=$(( $(date +%s) - TC_START ))
	log "$TC_TOOL with $RUNTIME_NAME: ${dt}s"
	[ ${#TC_FAILED_NAMES[@]} -gt 0 ] && log "failed: ${TC_FAILED_NAMES[*]}"
	if [ "$TC_SKIP" -gt 0 ]; then
		echo "$TC_PASS passed, $TC_FAIL failed, $TC_SKIP skipped"
	else
		echo "$TC_PASS passed, $TC_FAIL failed"
	fi
	[ "$TC_FAIL" -eq 0 ]
}

# ------------------------------------------------------------------ commands

# R [-t SECS] [-i INPUT] CMD...: run CMD with a timeout and no stdin (or INPUT).
# Sets RC, OUT (stdout), ERR (stderr), CMD (printable).
R() {
	local secs=$TC_CMD_TIMEOUT input=""
	local has_input=0
	while :; do
		case ${1-} in
		-t) secs=$2; shift 2 ;;
		-i) input=$2; has_input=1; shift 2 ;;
		*) break ;;
		esac
	done
	CMD=$*
	local t0=$SECONDS
	# in the background + wait, so that a TERM to the script is handled at once
	if [ $has_input = 1 ]; then
		printf '%s' "$input" | timeout -k 5 "$secs" "$@" >"$T/.out" 2>"$T/.err" &
	else
		timeout -k 5 "$secs" "$@" </dev/null >"$T/.out" 2>"$T/.err" &
	fi
	wait $!
	RC=$?
	OUT=$(cat "$T/.out") ERR=$(cat "$T/.err")
	[ $RC = 124 ] || [ $RC = 137 ] && ERR+="${ERR:+$'\n'}[timed out after ${secs}s]"
	if [ "$TC_VERBOSE" = 1 ]; then
		{ echo "\$ $CMD  -> rc=$RC ($((SECONDS - t0)) s)"; [ -n "$OUT" ] && echo "$OUT" | sed 's/^/  out: /' | head -20
		  [ -n "$ERR" ] && echo "$ERR" | sed 's/^/  err: /' | head -20; } >&2
	fi
	return $RC
}

# what the last R did, for failure messages
last() {
	local o e
	o=$(printf '%s' "$OUT" | head -c 1500) e=$(printf '%s' "$ERR" | head -c 1500)
	printf '$ %s\nrc=%s%s%s' "$CMD" "$RC" "${o:+$'\nstdout: '$o}" "${e:+$'\nstderr: '$e}"
}

# expect_ok DESC: last R exited 0
expect_ok() { [ "$RC" = 0 ] || fail "$1: expected success$(printf '\n')$(last)"; }
# expect_rc N DESC
expect_rc() { [ "$RC" = "$1" ] || fail "$2: expected exit code $1$(printf '\n')$(last)"; }
expect_fail() { [ "$RC" != 0 ] || fail "$1: expected failure$(printf '\n')$(last)"; }
# expect_out REGEX DESC: stdout of last R matches (extended regex, grep -E)
expect_out() { printf '%s\n' "$OUT" | grep -Eq -- "$1" || fail "$2: stdout does not match /$1/$(printf '\n')$(last)"; }
expect_no_out() { ! printf '%s\n' "$OUT" | grep -Eq -- "$1" || fail "$2: stdout matches /$1/$(printf '\n')$(last)"; }
expect_all() { printf '%s\n%s\n' "$OUT" "$ERR" | grep -Eq -- "$1" || fail "$2: output does not match /$1/$(printf '\n')$(last)"; }
# expect_eq WANT GOT DESC
expect_eq() { [ "$1" = "$2" ] || fail "$3: want '$1', got '$2'"; }

# wait_for SECS CMD...: retry CMD every 0.2s until it succeeds
wait_for() {
	local secs=$1; shift
	local end=$(( $(date +%s) + secs ))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.2
	done
}

# free_port: a TCP port nobody listens on
free_port() {
	local p i
	for i in $(seq 1 50); do
		p=$(( 20000 + (RANDOM % 20000) ))
		if ! ss -Htan "sport = :$p" 2>/dev/null | grep -q .; then echo "$p"; return 0; fi
	done
	return 1
}

# free_subnet: a /24 in 10.200.0.0-10.249.255.0 that no route uses; prints "10.a.b"
free_subnet() {
	local a b i
	for i in $(seq 1 50); do
		a=$(( 200 + RANDOM % 50 )) b=$(( RANDOM % 256 ))
		if ! ip -4 route show | grep -q "^10\.$a\.$b\."; then echo "10.$a.$b"; return 0; fi
	done
	return 1
}

# http_get HOST PORT [PATH]: HTTP/1.0 GET from the host with bash's /dev/tcp (no
# curl/wget needed; the static busybox wget crashes resolving on glibc hosts)
http_get() {
	timeout 10 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "${3:-/}" "$1" >&3 && cat <&3' _ "$@"
}

# ------------------------------------------------------------------ image build

# build_rootfs DIR: busybox rootfs (applet symlinks, passwd/group, /www for httpd)
build_rootfs() {
	local d=$1 a bb
	bb=$(readlink -f /bin/busybox)
	file_is_static "$bb" || die "/bin/busybox is not static (install busybox-static)"
	mkdir -p "$d"/{bin,sbin,etc,proc,sys,dev,tmp,root,home/tuser,www,var/tmp,run,mnt,data}
	cp "$bb" "$d/bin/busybox"
	for a in $("$bb" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$d/bin/$a"
	done
	cat >"$d/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
tuser:x:1000:1000:test user:/home/tuser:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
	cat >"$d/etc/group" <<'EOF'
root:x:0:
tgroup:x:1000:tuser
nogroup:x:65534:
EOF
	echo "layer1" >"$d/etc/motd"
	echo "only in layer 1" >"$d/etc/layer1-only"
	echo "hello from busybox httpd" >"$d/www/index.html"
	printf '#!/bin/sh\necho not executable\n' >"$d/bin/notexec"
	chmod 644 "$d/bin/notexec"
	chown -R 0:0 "$d"
	chmod 1777 "$d/tmp" "$d/var/tmp"
	chmod 700 "$d/root"
	chown 1000:1000 "$d/home/tuser"
}

file_is_static() { head -c4 "$1" | grep -q ELF && { LC_ALL=C ldd "$1" 2>&1 || true; } | grep -Eq 'not a dynamic executable|statically linked'; }

# make_tar DIR OUT
make_tar() { tar --numeric-owner -C "$1" -cf "$2" . ; }

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# make_docker_archive OUT TAG LAYER_TAR...: a `docker save` style archive
# (loadable by docker load, podman load and ctr image import)
make_docker_archive() {
	local out=$1 tag=$2; shift 2
	local d; d=$(mktemp -d "$T/arch.XXXX")
	local diff_ids="" layers="" hist="" l s
	for l in "$@"; do
		s=$(sha256 "$l")
		mkdir -p "$d/$s"
		cp "$l" "$d/$s/layer.tar"
		echo 1.0 >"$d/$s/VERSION"
		diff_ids+="${diff_ids:+,}\"sha256:$s\""
		layers+="${layers:+,}\"$s/layer.tar\""
		hist+="${hist:+,}{\"created\":\"2024-01-01T00:00:00Z\",\"created_by\":\"tong client tests: $(basename "$l")\"}"
	done
	printf '{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
		"$diff_ids" "$hist" >"$d/config.json"
	s=$(sha256 "$d/config.json")
	mv "$d/config.json" "$d/$s.json"
	printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}]' "$s" "$tag" "$layers" >"$d/manifest.json"
	tar --numeric-owner --owner=0 --group=0 -C "$d" -cf "$out" .
	rm -rf "$d"
}

# build_images: sets ROOTFS_TAR (single layer rootfs for `import`),
# IMG1_ARCHIVE (1-layer docker-archive, tag localhost/tgc-busybox:latest) and
# IMG2_ARCHIVE (2-layer docker-archive, tag localhost/tgc-multi:latest; layer 2 adds
# /etc/layer2, replaces /etc/motd and deletes /etc/layer1-only with a whiteout)
build_images() {
	local r="$T/img/rootfs" l2="$T/img/layer2"
	mkdir -p "$T/img"
	build_rootfs "$r"
	ROOTFS_TAR="$T/img/rootfs.tar"
	make_tar "$r" "$ROOTFS_TAR"
	mkdir -p "$l2/etc"
	echo "layer2" >"$l2/etc/motd"
	echo "from layer 2" >"$l2/etc/layer2"
	: >"$l2/etc/.wh.layer1-only"
	chown -R 0:0 "$l2"
	make_tar "$l2" "$T/img/layer2.tar"
	IMG1_ARCHIVE="$T/img/busybox-1layer.tar"
	IMG2_ARCHIVE="$T/img/busybox-2layer.tar"
	make_docker_archive "$IMG1_ARCHIVE" localhost/tgc-busybox:latest "$ROOTFS_TAR"
	make_docker_archive "$IMG2_ARCHIVE" localhost/tgc-multi:latest "$ROOTFS_TAR" "$T/img/layer2.tar"
	rm -rf "$r" "$l2"
}

# ------------------------------------------------------------------ pty (tmux)

TMUX_SOCK=""
tmx() { timeout -k 2 10 tmux -S "$TMUX_SOCK" "$@"; }

# pty_start SESSION CMD...: run CMD in a new pty; when it ends the pane shows
# "__RC=<code>__" and stays open
pty_start() {
	local s=$1; shift
	[ -n "$TMUX_SOCK" ] || TMUX_SOCK="$T/tmux.sock"
	local q; q=$(printf '%q ' "$@")
	tmx new-session -d -s "$s" -x 160 -y 50 \
		"$q; echo __RC=\$?__; sleep 600" </dev/null >/dev/null 2>&1
}
# pty_send SESSION TEXT: type TEXT and Enter
pty_send() { tmx send-keys -t "$1" -l "$2" && tmx send-keys -t "$1" Enter; }
pty_keys() { local s=$1; shift; tmx send-keys -t "$s" "$@"; }
pty_screen() { tmx capture-pane -p -J -S -200 -t "$1" 2>/dev/null; }
# pty_wait SESSION REGEX [SECS]: wait until the screen matches REGEX
pty_wait() {
	local s=$1 re=$2 secs=${3:-20}
	local end=$(( $(date +%s) + secs ))
	while :; do
		pty_screen "$s" | grep -Eq -- "$re" && return 0
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.2
	done
}
# pty_rc SESSION [SECS]: wait for the command to end; prints its exit code
pty_rc() {
	pty_wait "$1" '__RC=[0-9]+__' "${2:-20}" || { echo timeout; return 1; }
	pty_screen "$1" | sed -n 's/.*__RC=\([0-9]*\)__.*/\1/p' | tail -1
}
pty_stop() { tmx kill-session -t "$1" >/dev/null 2>&1 || true; }
pty_kill_server() {
	[ -n "$TMUX_SOCK" ] && [ -S "$TMUX_SOCK" ] && tmux -S "$TMUX_SOCK" kill-server >/dev/null 2>&1
	return 0
}

# ------------------------------------------------------------------ cleanup helpers

# kill_pid PID [SECS]: TERM, wait, KILL
kill_pid() {
	local p=$1 secs=${2:-15} i
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
	kill -TERM "$p" 2>/dev/null
	for (( i=0; i<secs*5; i++ )); do
		kill -0 "$p" 2>/dev/null || return 0
		# a zombie child of ours is gone for our purposes
		[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] && { wait "$p" 2>/dev/null; return 0; }
		sleep 0.2
	done
	log "pid $p did not exit on TERM, sending KILL"
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

# pids_matching STRING: pids whose command line contains STRING (never our own
# shell), STRING within one argument (a path, an id: the arguments are NUL-separated).
# One grep over every cmdline: a fork per process costs seconds in a TCG guest.
pids_matching() {
	local f p
	for f in $(grep -laF -- "$1" /proc/[0-9]*/cmdline 2>/dev/null); do
		p=${f#/proc/} p=${p%/cmdline}
		[ "$p" = $$ ] || [ "$p" = "$BASHPID" ] || [ "$p" = self ] || [ "$p" = thread-self ] && continue
		[ -d "/proc/$p" ] && echo "$p"   # (not the grep itself, gone by now)
	done
	return 0
}

# kill_procs_under DIR: KILL every process whose command line mentions DIR
# (conmon, shims, containerd of this run), by pid
kill_procs_under() {
	local p
	for p in $(pids_matching "$1"); do
		[ -d "/proc/$p" ] || continue
		log "killing leftover pid $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | head -c 200)"
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}

# mounts_under DIR: mount points at or below DIR, deepest first
mounts_under() {
	awk -v d="$1" '{ m=$5; gsub(/\\040/, " ", m); if (m == d || index(m, d "/") == 1) print length(m) " " m }' /proc/self/mountinfo |
		sort -rn | cut -d' ' -f2- | uniq
}
umount_under() {
	local m i
	for i in 1 2 3; do
		m=$(mounts_under "$1")
		[ -z "$m" ] && return 0
		while IFS= read -r m; do
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		done <<<"$m"
	done
	return 0
}

# rmdir_cgroup REL: remove /sys/fs/cgroup/*/REL (depth first), only empty ones
rmdir_cgroup() {
	local rel=${1#/} c d
	[ -n "$rel" ] || return 0
	for c in /sys/fs/cgroup/*/; do
		d="$c$rel"
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	return 0
}
# cgroup_exists REL
cgroup_exists() { local c; for c in /sys/fs/cgroup/*/; do [ -d "$c${1#/}" ] && return 0; done; return 1; }

# leak_check: report anything of this run left on the machine; returns 1 if so.
# Extra checks: LEAK_LINKS (link names), LEAK_CGROUPS (cgroup rel paths),
# LEAK_PATHS (files/dirs), LEAK_NETNS (netns names), LEAK_UNITS (systemd unit patterns)
LEAK_LINKS=() LEAK_CGROUPS=() LEAK_PATHS=() LEAK_NETNS=() LEAK_UNITS=()
leak_check() {
	local bad=0 m x
	m=$(mounts_under "$T")
	[ -n "$m" ] && { echo "mounts left: $m"; bad=1; }
	m=$(pids_matching "$T" | while read -r x; do echo "$x $(tr '\0' ' ' <"/proc/$x/cmdline" 2>/dev/null | head -c 150)"; done)
	[ -n "$m" ] && { echo "processes left: $m"; bad=1; }
	for x in "${LEAK_LINKS[@]}"; do
		ip link show "$x" >/dev/null 2>&1 && { echo "link left: $x"; bad=1; }
	done
	for x in "${LEAK_CGROUPS[@]}"; do
		cgroup_exists "$x" && { echo "cgroup left: $x"; bad=1; }
	done
	for x in "${LEAK_PATHS[@]}"; do
		[ -e "$x" ] && { echo "path left: $x"; bad=1; }
	done
	for x in "${LEAK_NETNS[@]}"; do
		[ -e "/run/netns/$x" ] && { echo "netns left: $x"; bad=1; }
	done
	for x in "${LEAK_UNITS[@]}"; do
		m=$(sd_units "$x" | tr '\n' ' ')
		[ -n "$m" ] && { echo "units left: $m"; bad=1; }
	done
	return $bad
}

# t_cleanup: run the cleanup now and check that nothing is left (a test of its own)
t_cleanup_check() {
	tc_cleanup_now
	local msg
	msg=$(leak_check) || fail "leftovers after cleanup:"$'\n'"$msg"
}
tc_cleanup_now() {
	# everything but removing $T itself (the EXIT trap does that)
	local keep=$TC_KEEP
	TC_KEEP=1
	tc_cleanup 2>/dev/null
	TC_KEEP=$keep
	TC_CLEANED=0
	TC_CLEANUP_HOOKS=()
}

# kill_cgroup_procs REL: SIGKILL every process in the cgroup REL (and below), by pid;
# thaws the freezer first
kill_cgroup_procs() {
	local rel=${1#/} f p i
	[ -n "$rel" ] || return 0
	[ -d "/sys/fs/cgroup/freezer/$rel" ] &&
		find "/sys/fs/cgroup/freezer/$rel" -name freezer.state -exec sh -c 'echo THAWED > "$1"' _ {} \; 2>/dev/null
	for i in 1 2 3; do
		local any=0
		for f in $(find /sys/fs/cgroup/*/"$rel" -name cgroup.procs 2>/dev/null); do
			for p in $(cat "$f" 2>/dev/null); do
				[ "$p" = $$ ] && continue
				kill -KILL "$p" 2>/dev/null && any=1
			done
		done
		[ $any = 0 ] && break
		sleep 0.3
	done
	return 0
}

# cg_v1_unmounted: the cgroup v1 hierarchies this process is in that are not mounted
# (here: hugetlb). containerd's cgroups library then fails to load a task's cgroups
# ("cannot find cgroup mount destination"), so `docker stats`/`ctr task metrics`
# get nothing, whatever the runtime.
cg_v1_unmounted() {
	local id ctrls rest c
	while IFS=: read -r id ctrls rest; do
		[ "$id" = 0 ] && continue
		for c in ${ctrls//,/ }; do
			awk -v c="$c" '{ fs=""; for (i=1;i<=NF;i++) if ($i=="-") { fs=$(i+1); break } }
				fs == "cgroup" { n=split($NF, o, ","); for (i=1;i<=n;i++) if (o[i]==c) f=1 } END { exit !f }' /proc/self/mountinfo || echo "$c"
		done
	done </proc/self/cgroup
}

# shim_sockets_under DIR: the /run/containerd/s/<sha256> sockets of the runc v2 shims
# whose containerd address is under DIR (a shim killed with SIGKILL leaves its socket)
shim_sockets_under() {
	local p a ns id args
	for p in $(pids_matching "$1"); do
		args=$({ tr '\0' '\n' <"/proc/$p/cmdline"; } 2>/dev/null) || continue
		printf '%s\n' "$args" | head -1 | grep -q 'containerd-shim' || continue
		a=$(printf '%s\n' "$args" | sed -n '/^-address$/{n;p;}')
		ns=$(printf '%s\n' "$args" | sed -n '/^-namespace$/{n;p;}')
		id=$(printf '%s\n' "$args" | sed -n '/^-id$/{n;p;}')
		[ -n "$a" ] && [ -n "$ns" ] && [ -n "$id" ] || continue
		echo "/run/containerd/s/$(printf '%s' "$a/$ns/$id" | sha256sum | cut -d' ' -f1)"
	done
}
