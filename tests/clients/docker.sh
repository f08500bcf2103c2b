#!/bin/bash
# Docker 20.10 (dockerd + its own containerd + runc v2 shim) with a runc-compatible
# runtime, everyday scenarios.
#
#   tests/clients/docker.sh [--runtime runc|/path/to/tong] [--systemd-cgroup] [--only REGEX] [-v] [--keep]
#
# Needs (Debian 12): docker.io (dockerd, docker, docker-proxy, containerd) busybox-static
#   tmux iproute2 procps (+ the runtime under test)
# A private dockerd (--data-root, --exec-root, --pidfile, -H unix://<tmp>/docker.sock,
# its own managed containerd under the exec-root, a private --config-file) is started
# in the background and killed by pid. The runtime is added with
# --add-runtime testrt=RUNTIME and made the default. The default bridge network
# uses a bridge the script creates with a unique name (tgd<runid>) and subnet;
# --iptables=false --ip-forward=false --ip-masq=false, so -p goes through
# docker-proxy and nothing global is touched. Cgroups: /docker/<id> (cgroupfs).
# --systemd-cgroup (systemd as PID 1, pure cgroup v2: hack/vm run --systemd):
# --exec-opt native.cgroupdriver=systemd, so the runtime gets --systemd-cgroup and
# cgroupsPath system.slice:docker:<id>: each container is the scope
# docker-<id>.scope, checked with systemctl show and its cgroup v2 files.
# Output: PASS|FAIL|SKIP lines, then "N passed, M failed[, K skipped]".
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
tc_parse_args "$@"
for b in dockerd docker containerd containerd-shim-runc-v2 docker-proxy tmux ip; do command -v $b >/dev/null || die "$b not installed"; done
tc_init docker
SD=$SYSTEMD_CGROUP
CGDRIVER=cgroupfs; [ -n "$SD" ] && CGDRIVER=systemd

IMG=localhost/tgc-busybox:latest
IMG2=localhost/tgc-multi:latest
BR=tgd$RUNID
DRT=testrt
D_IDS=()
CREATED_DIRS=()

# ---------------------------------------------------------------- setup
mkdir -p "$T/d"/{root,exec,cli} "$T/vol" "$T/bin"
for d in /run/containerd /run/containerd/s /etc/docker; do
	[ -d "$d" ] || CREATED_DIRS+=("$d")
done
[ -e /etc/docker/key.json ] || LEAK_PATHS+=(/etc/docker/key.json)
SUBNET=$(free_subnet) || die "no free subnet"
ip link add "$BR" type bridge && ip addr add "$SUBNET.1/24" dev "$BR" && ip link set "$BR" up ||
	die "could not create bridge $BR"
LEAK_LINKS+=("$BR")
# the runtime as daemon.json would give it (README); --add-runtime is the same
cat >"$T/d/daemon.json" <<EOF
{
  "runtimes": { "$DRT": { "path": "$RUNTIME_PATH" } },
  "default-runtime": "$DRT"
}
EOF
cat >"$T/bin/D" <<EOF
#!/bin/sh
exec docker -H "unix://$T/d/docker.sock" "\$@"
EOF
chmod +x "$T/bin/D"
export PATH="$T/bin:$PATH" DOCKER_CONFIG="$T/d/cli"
unset DOCKER_HOST DOCKER_CONTEXT

dockerd --data-root "$T/d/root" --exec-root "$T/d/exec" --pidfile "$T/d/docker.pid" \
	-H "unix://$T/d/docker.sock" --config-file "$T/d/daemon.json" \
	--exec-opt native.cgroupdriver=$CGDRIVER --storage-driver overlay2 \
	--bridge "$BR" --iptables=false --ip-forward=false --ip-masq=false --ipv6=false \
	--userland-proxy=true --log-level warn </dev/null >"$T/d/dockerd.log" 2>&1 &
D_PID=$!

docker_cleanup() {
	local id c
	if kill -0 "$D_PID" 2>/dev/null; then
		for id in $(timeout 20 D ps -aq --no-trunc 2>/dev/null); do D_IDS+=("$id"); done
		[ ${#D_IDS[@]} -gt 0 ] && timeout 30 D rm -f "${D_IDS[@]}"
	fi
	local socks; socks=$(shim_sockets_under "$T")
	kill_pid "$D_PID" 30           # stops its containerd too
	kill_procs_under "$T"          # containerd / shims / docker-proxy of this run
	[ -n "$socks" ] && rm -f $socks
	for id in "${D_IDS[@]}"; do kill_cgroup_procs "docker/$id"; rmdir_cgroup "docker/$id"; done
	if [ -n "$SD" ]; then
		for id in "${D_IDS[@]}"; do sd_stop_units "docker-$id.scope"; done
	fi
	for c in /sys/fs/cgroup/*/docker; do rmdir "$c" 2>/dev/null; done
	umount_under "$T"
	ip link del "$BR" 2>/dev/null
	[ -e "$T/.keyjson-created" ] && rm -f /etc/docker/key.json
	local i
	for (( i=${#CREATED_DIRS[@]}-1; i>=0; i-- )); do rmdir "${CREATED_DIRS[$i]}" 2>/dev/null; done
	return 0
}
add_cleanup docker_cleanup
# the cleanup check also looks for the containers' scopes
docker_units() { local id; for id in "${D_IDS[@]}"; do LEAK_UNITS+=("docker-$id.scope"); done; }
[ -n "$SD" ] && add_cleanup docker_units

wait_for 60 D version || { tail -20 "$T/d/dockerd.log" >&2; die "dockerd did not start"; }
# dockerd 20.10 writes a trust key to /etc/docker/key.json; remove it if we made it
for x in "${LEAK_PATHS[@]}"; do [ "$x" = /etc/docker/key.json ] && [ -e "$x" ] && touch "$T/.keyjson-created"; done

SLEEPER='trap "exit 0" TERM; while :; do sleep 0.2; done'
state() { D inspect -f "{{.State.$1}}" "$2" 2>/dev/null; }
cid() { D inspect -f '{{.Id}}' "$1" 2>/dev/null; }
remember() { local i; i=$(cid "$1") && D_IDS+=("$i"); }
need_main() { [ "$(state Status main)" = running ] || { D rm -f main >/dev/null 2>&1; D run -d --name main "$IMG" sh -c "$SLEEPER" >/dev/null 2>&1; remember main; }; }
# the scope of container id $1 (--systemd-cgroup)
scope_unit() { echo "docker-$1.scope"; }
scope_dir() { echo "/sys/fs/cgroup/system.slice/docker-$1.scope"; }
status_is() { [ "$(state Status "$1")" = "$2" ]; }

# ---------------------------------------------------------------- tests
test_image_import() {
	build_images
	R D import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		"$ROOTFS_TAR" "$IMG"; expect_ok "docker import" || return
	R D run --rm "$IMG" busybox true; expect_ok "run imported image"
}

test_image_multilayer() {
	R D load -i "$IMG2_ARCHIVE"; expect_ok "docker load (2 layers)" || return
	R D image inspect -f '{{len .RootFS.Layers}}' "$IMG2"; expect_eq 2 "$OUT" "layer count"
	R D run --rm "$IMG2" sh -c 'cat /etc/layer2 /etc/motd; ls /etc/layer1-only 2>&1; true'
	expect_ok "run 2-layer image"
	expect_out 'from layer 2' "file of layer 2"
	expect_out '^layer2$' "file replaced by layer 2"
	expect_out 'No such file' "file deleted by a whiteout in layer 2"
}

test_run_foreground() {
	R D run --rm "$IMG" echo hello world; expect_ok "run"; expect_eq "hello world" "$OUT" "output"
	R D run --rm "$IMG" sh -c 'echo to-stderr >&2'; expect_ok "run"
	printf '%s' "$ERR" | grep -q to-stderr || fail "stderr not passed: $(last)"
}

test_exit_code() {
	R D run --name ec "$IMG" sh -c 'exit 42'; expect_rc 42 "container exit code"
	remember ec
	expect_eq "exited 42" "$(state Status ec) $(state ExitCode ec)" "inspect state/exit code"
	expect_eq "$DRT" "$(D inspect -f '{{.HostConfig.Runtime}}' ec 2>&1)" "the runtime used"
	[ -n "$SD" ] && { sd_gone "$(scope_unit "$(cid ec)")" "$(scope_dir "$(cid ec)")" || fail "the exited container's scope is left"; }
	D rm ec >/dev/null 2>&1
}

test_exit_127() {
	R D run --rm "$IMG" /does/not/exist; expect_rc 127 "missing command"
	R D run --rm "$IMG" nosuchcommand; expect_rc 127 "command not in PATH"
}
test_exit_126() {
	R D run --rm "$IMG" /bin/notexec; expect_rc 126 "non-executable command"
	R D run --rm "$IMG" /etc; expect_rc 126 "directory as command"
}
test_exit_125() {
	# errors of docker itself
	R D run --rm localhost/no-such-image:latest true; expect_rc 125 "image not found"
	R D run --rm --badflag "$IMG" true; expect_rc 125 "docker usage error"
}
test_exit_runtime_failure() {
	# the runtime fails to set the container up (bind mount of a directory onto a file):
	# docker exits 125 and shows the runtime's error text
	R D run --rm -v "$T/vol:/etc/motd" "$IMG" true; expect_rc 125 "runtime failure"
	printf '%s' "$ERR" | grep -qi 'not a directory' || fail "the runtime's error text is not shown: $(last)"
	R D ps -aq --filter status=created --filter status=running; expect_eq "" "$OUT" "no container left running/created"
}

test_no_fd_leak() {
	# the shim leaks fd 3 to the runtime (and -p used to bring docker-proxy fds):
	# only 0-2 reach the container (ls has its own fd 3 open on the directory)
	local port; port=$(free_port)
	R D run --rm -p "127.0.0.1:$port:8080" "$IMG" ls /proc/self/fd; expect_ok "run"
	expect_eq "0 1 2 3" "$(echo $OUT)" "open fds in the container"
	R D run --rm -i "$IMG" ls /proc/self/fd; expect_eq "0 1 2 3" "$(echo $OUT)" "open fds in the container (-i)"
	need_main
	R D exec main ls /proc/self/fd; expect_eq "0 1 2 3" "$(echo $OUT)" "open fds in an exec"
}

test_run_detach_name() {
	R D run -d --name main "$IMG" sh -c "$SLEEPER"; expect_ok "run -d --name" || return
	remember main
	[[ $OUT =~ ^[0-9a-f]{64}$ ]] || fail "run -d did not print the id: $(last)"
	expect_eq running "$(state Status main)" "state"
	local pid; pid=$(state Pid main)
	if [ -n "$SD" ]; then
		local id; id=$(cid main)
		expect_eq "0::/system.slice/$(scope_unit "$id")" "$(cat /proc/$pid/cgroup 2>&1)" "the init's cgroup"
		sd_expect_scope "$(scope_unit "$id")" "$(scope_dir "$id")" "" "" ""
	fi
	[ "${pid:-0}" -gt 0 ] && [ -d "/proc/$pid" ] || fail "no pid for running container ($pid)"
}

test_run_rm() {
	R D run --rm --name rmme "$IMG" true; expect_ok "run --rm"
	wait_for 10 sh -c '! D inspect rmme' || fail "container not removed after exit"
}

test_env() {
	R D run --rm -e FOO=bar -e 'SP=a b' "$IMG" sh -c 'echo "$FOO|$SP|$PATH"'
	expect_ok "run -e"; expect_eq "bar|a b|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$OUT" "env"
}

test_volume_rw() {
	echo hostdata >"$T/vol/h"; rm -f "$T/vol/c"
	R D run --rm -v "$T/vol:/data" "$IMG" sh -c 'cat /data/h && echo ctrdata > /data/c'
	expect_ok "run -v"; expect_eq hostdata "$OUT" "host file read"
	expect_eq ctrdata "$(cat "$T/vol/c" 2>/dev/null)" "container file visible on host"
}

test_volume_ro() {
	echo hostdata >"$T/vol/h"
	R D run --rm -v "$T/vol:/data:ro" "$IMG" sh -c 'cat /data/h && touch /data/x'
	expect_fail "write to :ro volume"; expect_out hostdata "read from :ro volume"
	printf '%s' "$ERR" | grep -qi 'read-only' || fail "no read-only error: $(last)"
	[ ! -e "$T/vol/x" ] || fail "file created through :ro volume"
}

test_port() {
	local port; port=$(free_port)
	R D run -d --name web -p "127.0.0.1:$port:8080" "$IMG" httpd -f -p 8080 -h /www
	expect_ok "run -p" || return; remember web
	wait_for 10 http_get 127.0.0.1 "$port" || true
	OUT=$(http_get 127.0.0.1 "$port" 2>&1) RC=$? CMD="GET http://127.0.0.1:$port/"
	expect_out 'hello from busybox httpd' "page served through the published port"
	local ip; ip=$(D inspect -f '{{.NetworkSettings.IPAddress}}' web)
	[[ $ip == "$SUBNET".* ]] || fail "container address $ip not on the private bridge $SUBNET.0/24"
	R D rm -f web
}

test_workdir() {
	R D run --rm -w /tmp "$IMG" pwd; expect_eq /tmp "$OUT" "-w"
	R D run --rm -w /new/dir "$IMG" pwd; expect_eq /new/dir "$OUT" "-w (created)"
}

test_user() {
	R D run --rm -u 1000:1000 "$IMG" id; expect_ok "-u 1000:1000"
	expect_out '^uid=1000\(tuser\) gid=1000\(tgroup\)' "id"
	R D run --rm -u tuser "$IMG" sh -c 'id -un; echo $HOME'; expect_eq "tuser"$'\n'"/home/tuser" "$OUT" "-u name"
	R D run --rm -u 4242 "$IMG" id -u; expect_eq 4242 "$OUT" "-u unknown uid"
	R D run --rm -u nosuchuser "$IMG" id; expect_rc 125 "-u unknown name (the runtime fails)"
}

test_hostname() {
	R D run --rm --hostname tghost "$IMG" hostname; expect_eq tghost "$OUT" "--hostname"
}

test_tty_interactive() {
	pty_start dtty D run -it --rm --name ttyc "$IMG" sh
	pty_wait dtty '# $' 20 || { fail "no shell prompt:"$'\n'"$(pty_screen dtty | tail -5)"; pty_stop dtty; return; }
	pty_send dtty 'tty; echo $((6*7))x; stty size'
	pty_wait dtty '^42x' 10 || fail "no echo through the tty"
	pty_screen dtty | grep -q '^/dev/pts/0' || fail "tty is not /dev/pts/0"
	pty_screen dtty | grep -Eq '^50 160' || fail "terminal size not 50x160"
	pty_send dtty 'exit 3'
	expect_eq 3 "$(pty_rc dtty 20)" "exit code of -it"
	failed && fail "screen:"$'\n'"$(pty_screen dtty | grep -v '^$' | tail -8)"
	pty_stop dtty
}

test_read_only() {
	R D run --rm --read-only "$IMG" touch /x; expect_fail "write to --read-only rootfs"
	printf '%s' "$ERR" | grep -qi 'read-only' || fail "no read-only error: $(last)"
	R D run --rm --read-only --tmpfs /tmp "$IMG" touch /tmp/x; expect_ok "--read-only with --tmpfs /tmp"
}

test_limits() {
	R D run -d --name lim --memory 64m --cpus 0.5 --pids-limit 50 "$IMG" sh -c "$SLEEPER"
	expect_ok "run with limits" || return
	remember lim
	if [ -n "$SD" ]; then
		local id; id=$(cid lim)
		sd_expect_scope "$(scope_unit "$id")" "$(scope_dir "$id")" 67108864 "50000 100000" 50
		# docker gives a private cgroup namespace on cgroup v2: the scope is its /sys/fs/cgroup
		R D exec lim cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max
		expect_eq "67108864"$'\n'"50000 100000"$'\n'"50" "$OUT" "limits seen in the container"
		R D rm -f lim; expect_ok "rm -f"
		sd_gone "$(scope_unit "$id")" "$(scope_dir "$id")" || fail "scope left after rm -f: $(sd_units "$(scope_unit "$id")")"
		return 0
	fi
	local cg="docker/$(cid lim)"
	expect_eq 67108864 "$(cat /sys/fs/cgroup/memory/$cg/memory.limit_in_bytes 2>&1)" "host memory.limit_in_bytes"
	expect_eq 50000 "$(cat /sys/fs/cgroup/cpu/$cg/cpu.cfs_quota_us 2>&1)" "host cpu.cfs_quota_us"
	expect_eq 50 "$(cat /sys/fs/cgroup/pids/$cg/pids.max 2>&1)" "host pids.max"
	R D exec lim cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max
	expect_eq "67108864"$'\n'"50000"$'\n'"50" "$OUT" "limits seen in the container"
	R D rm -f lim
}

test_update() {
	R D run -d --name upd --memory 64m "$IMG" sh -c "$SLEEPER"; expect_ok run || return
	remember upd
	if [ -n "$SD" ]; then
		local id u d; id=$(cid upd); u=$(scope_unit "$id") d=$(scope_dir "$id")
		R D update --memory 128m --memory-swap 256m --cpus 0.7 --pids-limit 60 upd; expect_ok "docker update"
		sd_expect_scope "$u" "$d" 134217728 "70000 100000" 60
		expect_eq 134217728 "$(cat "$d/memory.swap.max" 2>&1)" "memory.swap.max (256m memory+swap)"
		R D update --cpus 0.3 upd; expect_ok "docker update (cpu only)"
		sd_expect_scope "$u" "$d" 134217728 "30000 100000" 60
		R D rm -f upd
		return 0
	fi
	local cg="docker/$(cid upd)"
	R D update --memory 128m --memory-swap 256m --cpus 0.7 --pids-limit 60 upd; expect_ok "docker update"
	expect_eq 134217728 "$(cat /sys/fs/cgroup/memory/$cg/memory.limit_in_bytes 2>&1)" "memory.limit_in_bytes"
	expect_eq 268435456 "$(cat /sys/fs/cgroup/memory/$cg/memory.memsw.limit_in_bytes 2>&1)" "memory.memsw.limit_in_bytes"
	expect_eq 70000 "$(cat /sys/fs/cgroup/cpu/$cg/cpu.cfs_quota_us 2>&1)" "cpu.cfs_quota_us"
	expect_eq 60 "$(cat /sys/fs/cgroup/pids/$cg/pids.max 2>&1)" "pids.max"
	R D update --cpus 0.3 upd; expect_ok "docker update (cpu only)"
	expect_eq 30000 "$(cat /sys/fs/cgroup/cpu/$cg/cpu.cfs_quota_us 2>&1)" "cpu.cfs_quota_us"
	expect_eq 134217728 "$(cat /sys/fs/cgroup/memory/$cg/memory.limit_in_bytes 2>&1)" "memory unchanged by a cpu-only update"
	R D rm -f upd
}

test_cap_drop() {
	R D run --rm "$IMG" sh -c 'touch /tmp/f && chown 1000 /tmp/f'; expect_ok "chown with default caps"
	R D run --rm --cap-drop CHOWN "$IMG" sh -c 'touch /tmp/f && chown 1000 /tmp/f'; expect_fail "chown without CAP_CHOWN"
	R D run --rm --cap-drop all "$IMG" sh -c 'grep CapEff /proc/self/status'; expect_out 'CapEff:\s+0+$' "--cap-drop all"
}

test_cap_add() {
	R D run --rm "$IMG" sh -c 'mount -t tmpfs t /mnt'; expect_fail "mount without CAP_SYS_ADMIN"
	R D run --rm --cap-add SYS_ADMIN "$IMG" sh -c 'mount -t tmpfs t /mnt && grep -c " /mnt " /proc/mounts'
	expect_ok "mount with --cap-add SYS_ADMIN"
	R D run --rm "$IMG" ip addr add 10.1.2.3/32 dev lo; expect_fail "ip addr add without CAP_NET_ADMIN"
	R D run --rm --cap-add NET_ADMIN "$IMG" sh -c 'ip addr add 10.1.2.3/32 dev lo && echo ok'
	expect_eq ok "$OUT" "--cap-add NET_ADMIN"
}

test_privileged() {
	local bnd; bnd=$(awk '/CapBnd/ {print $2}' /proc/self/status)
	local all; all=$(printf '%016x' $(( (1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1 )))
	R D run --rm --privileged "$IMG" sh -c 'grep CapEff /proc/self/status; mount -t tmpfs t /mnt && echo mounted; ls /dev | wc -l'
	if [ "$RC" != 0 ] && [ "$bnd" != "$all" ] && printf '%s' "$ERR" | grep -qi 'operation not permitted'; then
		skip "this host's capability bounding set is $bnd, not $all: docker --privileged asks for every capability and the runtime fails (runc: 'unable to apply caps: operation not permitted')"
		return
	fi
	expect_ok "--privileged"
	expect_out "CapEff:\s+$bnd\$" "all capabilities"
	expect_out mounted "mount allowed"
	local n; n=$(printf '%s\n' "$OUT" | tail -1)
	[ "${n:-0}" -gt 20 ] || fail "host devices not visible (ls /dev | wc -l = $n)"
}

test_network_none() {
	R D run --rm --network none "$IMG" sh -c 'ls /sys/class/net; tail -n +3 /proc/net/dev | cut -d: -f1'
	expect_ok "--network none"; expect_eq "lo"$'\n'"    lo" "$OUT" "only lo"
	R D run --rm "$IMG" ls /sys/class/net; expect_out eth0 "default bridge network has eth0 (prestart hook ran)"
}

test_restart_policy() {
	R D run -d --name rp --restart on-failure:2 "$IMG" sh -c 'sleep 0.3; exit 3'; expect_ok "--restart on-failure:2" || return
	remember rp
	wait_for 30 sh -c '[ "$(D inspect -f "{{.RestartCount}} {{.State.Status}}" rp)" = "2 exited" ]'
	expect_eq "2 exited 3" "$(D inspect -f '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}' rp 2>&1)" "restart count"
	R D rm -f rp
}

# ---- exec (against "main")
test_exec() {
	need_main
	R D exec main echo hi; expect_eq hi "$OUT" "exec"
	R D exec main sh -c 'exit 7'; expect_rc 7 "exec exit code"
	R D exec main /does/not/exist; expect_rc 126 "exec missing command (docker 20.10 exec: 126)"
	R D exec main /bin/notexec; expect_rc 126 "exec non-executable"
	R D exec main true; expect_ok "exec after failed execs"
}
test_exec_env() {
	need_main
	R D exec -e X=1 -e Y=two main sh -c 'echo $X$Y'; expect_eq 1two "$OUT" "exec -e"
}
test_exec_user() {
	need_main
	R D exec -u 1000 main id -u; expect_eq 1000 "$OUT" "exec -u 1000"
	R D exec -u tuser:tgroup main id -gn; expect_eq tgroup "$OUT" "exec -u name:group"
}
test_exec_workdir() {
	need_main
	R D exec -w /etc main pwd; expect_eq /etc "$OUT" "exec -w"
}
test_exec_detach() {
	need_main
	R D exec -d main sh -c 'sleep 0.5; echo done > /tmp/det'; expect_ok "exec -d"
	wait_for 10 sh -c 'D exec main cat /tmp/det | grep -q done' || fail "detached exec did not run"
}
test_exec_tty() {
	need_main
	pty_start dexec D exec -it main sh
	pty_wait dexec '# $' 20 || { fail "no shell prompt:"$'\n'"$(pty_screen dexec | tail -5)"; pty_stop dexec; return; }
	pty_send dexec 'tty; echo $((7*6))y'
	pty_wait dexec '^42y' 10 || fail "no echo through the exec tty"
	pty_screen dexec | grep -q '^/dev/pts/' || fail "no pts"
	pty_send dexec 'exit 4'
	expect_eq 4 "$(pty_rc dexec 20)" "exit code of exec -it"
	failed && fail "screen:"$'\n'"$(pty_screen dexec | grep -v '^$' | tail -8)"
	pty_stop dexec
}

# ---- lifecycle
test_ps() {
	need_main
	R D run --name done1 "$IMG" true; remember done1
	R D ps --format '{{.Names}} {{.Status}}'; expect_out '^main Up' "running container in ps"
	expect_no_out '^done1 ' "exited container not in ps"
	R D ps -a --format '{{.Names}} {{.Status}}'; expect_out '^done1 Exited \(0\)' "exited container in ps -a"
}

test_logs() {
	R D run --name lg "$IMG" sh -c 'echo out1; echo err1 >&2; echo out2'; remember lg
	R D logs lg; expect_ok "logs"
	printf '%s' "$OUT" | grep -q out2 || fail "stdout missing in logs: $(last)"
	printf '%s' "$ERR" | grep -q err1 || fail "stderr missing in logs: $(last)"
	R D rm lg
}

test_attach() {
	R D run -d --name att "$IMG" sh -c 'i=0; while :; do echo tick$i; i=$((i+1)); sleep 0.3; done'
	expect_ok "run -d" || return; remember att
	R -t 3 D attach --no-stdin --sig-proxy=false att
	expect_out 'tick[0-9]+' "attach shows output"
	sleep 0.5
	expect_eq running "$(state Status att)" "container survives the attach client"
	R D rm -f att
}

test_stop_timeout() {
	R D run -d --name st "$IMG" sleep 1000; expect_ok "run" || return; remember st
	local t0=$SECONDS
	R D stop -t 2 st; expect_ok "stop -t 2"
	local dt=$((SECONDS - t0))
	[ $dt -ge 2 ] && [ $dt -le 10 ] || fail "stop -t 2 took ${dt}s (pid 1 ignores SIGTERM: expect ~2s)"
	expect_eq "exited 137" "$(state Status st) $(state ExitCode st)" "killed after the timeout"
	R D run -d --name st2 "$IMG" sh -c "$SLEEPER"; remember st2
	t0=$SECONDS
	R D stop -t 20 st2; expect_ok "stop"
	[ $((SECONDS - t0)) -le 5 ] || fail "stop of a container that exits on SIGTERM took $((SECONDS - t0))s"
	expect_eq "exited 0" "$(state Status st2) $(state ExitCode st2)" "clean stop"
	R D rm st st2
}

test_kill_signal() {
	R D run -d --name ks "$IMG" sh -c 'trap "echo got-usr1; exit 5" USR1; while :; do sleep 0.2; done'
	expect_ok run || return; remember ks
	sleep 0.5
	R D kill -s USR1 ks; expect_ok "kill -s USR1"
	wait_for 10 status_is ks exited || fail "container did not exit on USR1"
	expect_eq 5 "$(state ExitCode ks)" "exit code from the trap"
	R D logs ks; expect_out got-usr1 "trap ran"
	R D run -d --name ks9 "$IMG" sleep 1000; remember ks9
	R D kill ks9; expect_ok "kill (SIGKILL)"
	wait_for 10 status_is ks9 exited; expect_eq 137 "$(state ExitCode ks9)" "exit code after SIGKILL"
	R D rm -f ks ks9
}

test_restart() {
	R D run -d --name rs "$IMG" sh -c "$SLEEPER"; expect_ok run || return; remember rs
	local p1; p1=$(state Pid rs)
	R D restart -t 5 rs; expect_ok "restart"
	local p2; p2=$(state Pid rs)
	expect_eq running "$(state Status rs)" "running after restart"
	[ "$p1" != "$p2" ] && [ "${p2:-0}" -gt 0 ] || fail "pid did not change ($p1 -> $p2)"
	R D exec rs true; expect_ok "exec after restart"
	R D rm -f rs
}

test_pause_unpause() {
	need_main
	local id; id=$(cid main)
	R D pause main; expect_ok "pause"
	expect_eq paused "$(state Status main)" "state paused"
	if [ -n "$SD" ]; then
		expect_eq 1 "$(cat "$(scope_dir "$id")/cgroup.freeze" 2>&1)" "cgroup.freeze"
	else
		expect_eq FROZEN "$(cat /sys/fs/cgroup/freezer/docker/$id/freezer.state 2>&1)" "freezer.state"
	fi
	R D unpause main; expect_ok "unpause"
	expect_eq running "$(state Status main)" "state running"
	if [ -n "$SD" ]; then
		expect_eq 0 "$(cat "$(scope_dir "$id")/cgroup.freeze" 2>&1)" "cgroup.freeze"
	else
		expect_eq THAWED "$(cat /sys/fs/cgroup/freezer/docker/$id/freezer.state 2>&1)" "freezer.state"
	fi
	R D exec main true; expect_ok "exec after unpause"
}

test_top() {
	need_main
	R D top main; expect_ok "top (runtime ps --format json)"; expect_out 'sleep' "process list"
}

test_stats() {
	need_main
	local um; um=$(cg_v1_unmounted | tr '\n' ' ')
	if [ -n "$um" ]; then
		R D stats --no-stream --format '{{.MemUsage}}' main
		if [[ $OUT == "0B / 0B" ]]; then
			skip "cgroup v1 hierarchy not mounted here ($um): containerd's shim cannot load the task's cgroups, stats are empty whatever the runtime"
			return
		fi
	fi
	R D stats --no-stream --format '{{.Name}} {{.MemUsage}} {{.PIDs}}' main; expect_ok "stats --no-stream"
	expect_out '^main [0-9.]+[kKMG]?i?B / ' "memory usage"
	printf '%s' "$OUT" | grep -Eq '^main 0B' && fail "zero memory usage: $(last)"
	local pids; pids=$(printf '%s' "$OUT" | awk '{print $NF}')
	[ "${pids:-0}" -ge 1 ] 2>/dev/null || fail "no pids in stats: $(last)"
}

test_rm() {
	R D create --name cr "$IMG" true; expect_ok "create"; remember cr
	R D rm cr; expect_ok "rm created"
	R D run --name ex "$IMG" true; remember ex
	R D rm ex; expect_ok "rm exited"
	R D inspect ex; expect_fail "gone"
}

test_rm_force() {
	R D run -d --name rf "$IMG" sleep 1000; expect_ok run || return
	local id; id=$(cid rf); D_IDS+=("$id")
	R D rm -f rf; expect_ok "rm -f running"
	R D inspect rf; expect_fail "gone"
	if [ -n "$SD" ]; then
		sd_gone "$(scope_unit "$id")" "$(scope_dir "$id")" || fail "scope left after rm -f: $(sd_units "$(scope_unit "$id")")"
	else
		wait_for 5 sh -c "! ls -d /sys/fs/cgroup/*/docker/$id" || fail "cgroup left after rm -f"
	fi
}

test_final_main_stop() {
	need_main
	R D stop -t 5 main; expect_ok "stop main"
	R D rm main; expect_ok "rm main"
}

t image_import test_image_import
[ -f "${ROOTFS_TAR:-/nonexistent}" ] || die "image build failed"
t image_multilayer test_image_multilayer
t run_foreground test_run_foreground
t exit_code test_exit_code
t exit_125 test_exit_125
t exit_runtime_failure test_exit_runtime_failure
t exit_126 test_exit_126
t exit_127 test_exit_127
t run_detach_name test_run_detach_name
t no_fd_leak test_no_fd_leak
t run_rm test_run_rm
t env test_env
t volume_rw test_volume_rw
t volume_ro test_volume_ro
t port test_port
t workdir test_workdir
t user test_user
t hostname test_hostname
t tty_interactive test_tty_interactive
t read_only test_read_only
t limits test_limits
t update test_update
t cap_add test_cap_add
t cap_drop test_cap_drop
t privileged test_privileged
t network_none test_network_none
t restart_policy test_restart_policy
t exec test_exec
t exec_env test_exec_env
t exec_user test_exec_user
t exec_workdir test_exec_workdir
t exec_detach test_exec_detach
t exec_tty test_exec_tty
t ps test_ps
t logs test_logs
t attach test_attach
t stop_timeout test_stop_timeout
t kill_signal test_kill_signal
t restart test_restart
t pause_unpause test_pause_unpause
t top test_top
t stats test_stats
t rm test_rm
t rm_force test_rm_force
t stop_rm_main test_final_main_stop
t cleanup t_cleanup_check
tc_summary
