#!/bin/bash
# Rootless Podman (Debian's podman 4.3 + conmon, slirp4netns) with a
# runc-compatible runtime, as an ordinary user the script makes: useradd with
# a home under the temp dir, a subuid/subgid range of its own, an
# XDG_RUNTIME_DIR it owns (0700, set by hand: no loginctl, no systemd user
# instance), vfs storage and the cgroupfs manager. Every podman command runs as
# that user (setpriv); the checks look inside the container and on the host
# (the container's processes belong to the user and its subordinate ids, never
# to root; files written through a volume; the published port).
#
#   tests/clients/podman-rootless.sh [--runtime runc|/path/to/tong] [--only REGEX] [-v] [--keep]
#
# Needs (Debian 12): podman conmon slirp4netns uidmap busybox-static (hack/install-deps).
# Cleanup, also on failure: podman rm -af and system reset as the user, the
# user's processes killed by pid, userdel -r. Output: PASS|FAIL|SKIP lines,
# then "N passed, M failed[, K skipped]".
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
tc_parse_args "$@"
for b in podman conmon slirp4netns newuidmap newgidmap setpriv useradd usermod userdel; do
	command -v $b >/dev/null || die "$b not installed"
done
tc_init podman-rootless

IMG=localhost/tgc-busybox:latest
U=tgpr$RUNID
UHOME=$T/home
XDG=$T/run
UID_=""
# pid1 that exits at once on SIGTERM
SLEEPER='trap "exit 0" TERM; while :; do sleep 0.2; done'

user_procs() { [ -n "$UID_" ] && ps -o pid= -u "$UID_" 2>/dev/null | tr -d ' '; }
rootless_cleanup() {
	[ -n "$UID_" ] || return 0
	timeout 30 P rm -af -t 0 >/dev/null 2>&1
	timeout 60 P system reset -f >/dev/null 2>&1
	local i p
	for i in 1 2 3 4 5; do   # conmon, slirp4netns, rootlessport, podman's pause process
		p=$(user_procs)
		[ -z "$p" ] && break
		kill -KILL $p 2>/dev/null
		sleep 0.3
	done
	userdel -r -f "$U" >/dev/null 2>&1
	# vfs layers of the subordinate ids that system reset could not remove
	rm -rf --one-file-system "$UHOME" "$XDG"
	return 0
}
add_cleanup rootless_cleanup

# slirp4netns (the rootless network, with the published ports) opens
# /dev/net/tun as the user: Debian's udev makes it 0666; a host without udev
# (this VM, the guests) has the kernel's 0600. Opened for the run, the mode
# put back at exit.
TUN_MODE=$(stat -c %a /dev/net/tun 2>/dev/null) || die "no /dev/net/tun (the tun module)"
if [ "$TUN_MODE" != 666 ]; then
	chmod 666 /dev/net/tun || die "chmod /dev/net/tun"
	add_cleanup "chmod $TUN_MODE /dev/net/tun"
fi

# ---------------------------------------------------------------- the user
# no automatic subordinate range: only the one below
useradd -M -d "$UHOME" -s /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$U" || die "useradd $U"
UID_=$(id -u "$U") GID_=$(id -g "$U")
# a subordinate range of its own (tests/rootless.rs uses 1M-2.1G,
# conformance/scripts/rootless 3.0G-3.07G)
SUB=$((3100000000 + (0x$RUNID % 1000) * 65536))
usermod --add-subuids "$SUB-$((SUB + 65535))" --add-subgids "$SUB-$((SUB + 65535))" "$U" || die "usermod"
mkdir -p "$UHOME" "$XDG" "$T/vol" "$T/rootonly" "$T/p"
chown "$UID_:$GID_" "$UHOME" "$XDG" "$T/vol"
chmod 700 "$XDG"
echo "root's" >"$T/rootonly/f"; chmod 755 "$T/rootonly"; chmod 644 "$T/rootonly/f"
cat >"$T/p/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$UHOME/events.log"
# conmon passes --log-format=json --log only to runtimes named here
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "tong", "$RUNTIME_NAME"]
runtime = "$RUNTIME_NAME"

[engine.runtimes]
$RUNTIME_NAME = ["$RUNTIME_PATH"]
CONF
cat >"$T/p/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$UHOME/storage"
runroot = "$XDG/containers"
CONF
printf 'unqualified-search-registries = []\n' >"$T/p/registries.conf"
chmod 644 "$T/p"/*

# P: podman as the user, with its own environment only
mkdir -p "$T/bin"
cat >"$T/bin/P" <<CONF
#!/bin/sh
cd "$UHOME" || exit 125
exec setpriv --reuid $UID_ --regid $GID_ --init-groups -- env -i \\
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
	HOME="$UHOME" USER=$U LOGNAME=$U XDG_RUNTIME_DIR="$XDG" \\
	CONTAINERS_CONF="$T/p/containers.conf" CONTAINERS_STORAGE_CONF="$T/p/storage.conf" \\
	CONTAINERS_REGISTRIES_CONF="$T/p/registries.conf" \\
	podman --runtime "$RUNTIME_PATH" "\$@"
CONF
chmod 755 "$T/bin/P"
export PATH="$T/bin:$PATH"

state() { P inspect -f "{{.State.$1}}" "$2" 2>/dev/null; }
cid() { P inspect -f '{{.Id}}' "$1" 2>/dev/null; }
# status_uid PID: the real uid of a host process (first field of Uid:)
status_uid() { awk '/^Uid:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# ---------------------------------------------------------------- tests

test_image_import() {
	build_images
	chmod 644 "$ROOTFS_TAR"
	R -t 60 P import --change 'CMD ["/bin/sh"]' \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		"$ROOTFS_TAR" "$IMG" && R P image exists "$IMG" || fail "podman import as $U: $(last)"
	R P info -f '{{.Host.Security.Rootless}} {{.Store.GraphDriverName}} {{.Host.OCIRuntime.Path}}'
	expect_eq "true vfs $RUNTIME_PATH" "$OUT" "podman info: rootless, storage, runtime"
}

test_run_foreground() {
	R -t 40 P run --rm "$IMG" sh -c 'echo hello; id -u; id -g; cat /proc/self/uid_map'
	expect_ok "run" || return
	expect_eq "hello" "$(sed -n 1p <<<"$OUT")" "output"
	expect_eq "0 0" "$(sed -n '2p;3p' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')" "root in the container"
	# the container's user namespace: podman's (0 -> the user, 1.. -> its subuids)
	expect_out "^ *0 +0 +1$|^ *0 +$UID_ +1$" "uid 0 maps to the user"
	R P run --rm "$IMG" sh -c 'echo to-stderr >&2; exit 3'; expect_rc 3 "exit code"
	printf '%s' "$ERR" | grep -q to-stderr || fail "stderr not passed: $(last)"
}

test_run_detach() {
	R P run -d --name main "$IMG" sh -c "$SLEEPER"; expect_ok "run -d --name" || return
	[[ $OUT =~ ^[0-9a-f]{64}$ ]] || fail "run -d did not print the id: $(last)"
	expect_eq running "$(state Status main)" "state"
	local pid; pid=$(state Pid main)
	[ "${pid:-0}" -gt 0 ] && [ -d "/proc/$pid" ] || { fail "no host pid for the running container ($pid)"; return; }
	# on the host: the container's root is the user, and its maps are the user's and its subuids
	expect_eq "$UID_" "$(status_uid "$pid")" "host uid of the container's init"
	local m; m=$(tr -s ' ' <"/proc/$pid/uid_map" | sed 's/^ //')
	grep -qx "0 $UID_ 1" <<<"$m" && grep -qx "1 $SUB 65536" <<<"$m" ||
		fail "uid_map of the init seen from the host: want 0 $UID_ 1 and 1 $SUB 65536, got: $m"
	[ "$(readlink /proc/$pid/ns/user)" != "$(readlink /proc/1/ns/user)" ] || fail "the container is in the host's user namespace"
}

test_exec() {
	R P exec main sh -c 'echo hi; id -u'; expect_eq "hi"$'\n'"0" "$OUT" "exec"
	R P exec main sh -c 'exit 7'; expect_rc 7 "exec exit code"
	R P exec -u 1000 main id -u; expect_eq 1000 "$OUT" "exec -u 1000"
	# the exec'd process on the host: uid 1000 in the container is a subuid
	R P exec -d -u 1000 main sleep 30; expect_ok "exec -d"
	local p found=""
	for p in $(pgrep -u "$((SUB + 999))" -x sleep); do found=$p; done
	[ -n "$found" ] || fail "no 'sleep' of host uid $((SUB + 999)) (container uid 1000) after exec -d"
	[ -n "$found" ] && kill -KILL "$found" 2>/dev/null
	return 0
}

test_logs() {
	R P run --name lg "$IMG" sh -c 'echo out1; echo err1 >&2; echo out2'
	R P logs lg; expect_ok "logs"
	printf '%s\n%s\n' "$OUT" "$ERR" | grep -q out2 && printf '%s\n%s\n' "$OUT" "$ERR" | grep -q err1 ||
		fail "logs incomplete: $(last)"
	R P rm lg; expect_ok "rm lg"
}

test_stop_rm() {
	local pid id
	pid=$(state Pid main) id=$(cid main)
	R P stop -t 5 main; expect_ok "stop" || return
	expect_eq exited "$(state Status main)" "state after stop"
	[ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(status_uid "$pid")" = "$UID_" ] && fail "init $pid still runs after stop"
	R P rm main; expect_ok "rm"
	R P container exists main; expect_rc 1 "container gone after rm"
	# the runtime's state (podman gives it --root under XDG_RUNTIME_DIR) is gone
	local left; left=$(find "$XDG" -name "$id*" 2>/dev/null | grep -v '/containers/' | head -3)
	[ -z "$left" ] || fail "runtime state left after rm: $left"
}

test_rm_force() {
	R P run -d --name rf "$IMG" sleep 1000; expect_ok run || return
	local pid; pid=$(state Pid rf)
	R P rm -f -t 0 rf; expect_ok "rm -f running"
	R P container exists rf; expect_rc 1 "gone"
	[ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(status_uid "$pid")" = "$UID_" ] && fail "process $pid left after rm -f"
	return 0
}

test_volume() {
	echo hostdata >"$T/vol/h"; chown "$UID_:$GID_" "$T/vol/h"; rm -f "$T/vol/c" "$T/vol/u"
	R P run --rm -v "$T/vol:/data" "$IMG" sh -c 'cat /data/h && echo ctrdata > /data/c && ls -n /data/h'
	expect_ok "run -v" || return
	expect_eq hostdata "$(head -1 <<<"$OUT")" "host file read in the container"
	expect_out '^-[rw-]+ +1 +0 +0 ' "the user's file is root's in the container"
	expect_eq ctrdata "$(cat "$T/vol/c" 2>/dev/null)" "container file visible on the host"
	expect_eq "$UID_:$GID_" "$(stat -c %u:%g "$T/vol/c" 2>&1)" "owner on the host of a file the container's root wrote"
	chmod 777 "$T/vol"
	R P run --rm -u 1000:1000 -v "$T/vol:/data" "$IMG" sh -c 'echo u > /data/u'; expect_ok "write as uid 1000"
	expect_eq "$((SUB + 999)):$((SUB + 999))" "$(stat -c %u:%g "$T/vol/u" 2>&1)" "owner on the host of a file uid 1000 wrote"
	chmod 755 "$T/vol"
	R P run --rm -v "$T/vol:/data:ro" "$IMG" sh -c 'touch /data/x'; expect_fail "write to a :ro volume"
	[ ! -e "$T/vol/x" ] || fail "file created through a :ro volume"
}

test_userns_keep_id() {
	R P run --rm --userns=keep-id -v "$T/vol:/data" "$IMG" sh -c 'id -u; id -g; echo k > /data/k; ls -n /data/h'
	expect_ok "run --userns=keep-id" || return
	expect_eq "$UID_" "$(sed -n 1p <<<"$OUT")" "uid in the container is the user's"
	expect_eq "$GID_" "$(sed -n 2p <<<"$OUT")" "gid in the container is the user's"
	expect_out "^-[rw-]+ +1 +$UID_ +$GID_ " "the user's file keeps its owner"
	expect_eq "$UID_:$GID_" "$(stat -c %u:%g "$T/vol/k" 2>&1)" "owner on the host of a file written with keep-id"
}

test_port() {
	local port; port=$(free_port)
	R -t 40 P run -d --name web -p "127.0.0.1:$port:8080" "$IMG" httpd -f -p 8080 -h /www
	expect_ok "run -p" || return
	wait_for 15 http_get 127.0.0.1 "$port" || true
	OUT=$(http_get 127.0.0.1 "$port" 2>&1) RC=$? CMD="GET http://127.0.0.1:$port/"
	expect_out 'hello from busybox httpd' "page served through the published port"
	# the port is held on the host by the user's rootlessport, not by root
	local holder; holder=$(ss -Htlnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
	[ -n "$holder" ] && expect_eq "$UID_" "$(status_uid "$holder")" "owner of the host's listener on $port"
	# and the container has a network namespace of its own (slirp4netns)
	local pid; pid=$(state Pid web)
	[ "$(readlink /proc/$pid/ns/net)" != "$(readlink /proc/1/ns/net)" ] || fail "the container is in the host's network namespace"
	R P rm -f -t 0 web; expect_ok "rm -f web"
}

test_no_privilege() {
	# what the user cannot write, its container's root cannot either
	R P run --rm -v "$T/rootonly:/r" "$IMG" sh -c 'ls -n /r/f; echo x >> /r/f; touch /r/new'
	expect_fail "writing a root-owned file through a volume"
	expect_out '^-rw-r--r-- +1 +65534 +65534 ' "root's file shows as nobody in the container"
	expect_eq "root's" "$(cat "$T/rootonly/f")" "root's file unchanged"
	[ ! -e "$T/rootonly/new" ] || fail "file created in a root-owned directory"
}

test_system_reset() {
	R -t 60 P rm -af -t 0; expect_ok "rm -af"
	R -t 60 P system reset -f; expect_ok "system reset"
	R P ps -aq; expect_eq "" "$OUT" "no containers after reset"
}

t image_import test_image_import
[ -f "${ROOTFS_TAR:-/nonexistent}" ] || die "image build failed"
t run_foreground test_run_foreground
t run_detach test_run_detach
t exec test_exec
t logs test_logs
t stop_rm test_stop_rm
t rm_force test_rm_force
t volume test_volume
t userns_keep_id test_userns_keep_id
t port test_port
t no_privilege test_no_privilege
t system_reset test_system_reset
t cleanup t_cleanup_check
tc_summary
