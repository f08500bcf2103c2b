#!/usr/bin/env bash
# Self-test of hack/vm (as root, needs qemu-system-x86): boots the plain and the
# systemd guest and checks what a command sees in them, that exit codes and
# output come back, that a timeout and SIGTERM stop the guest, and that nothing
# (qemu process, run directory) is left on the host afterwards.
# Usage: tests/vm/selftest.sh     (about 2 minutes under TCG)
set -uo pipefail
cd "$(dirname "$0")/../.."
tree=$(pwd -P)
vm=hack/vm
fails=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { # check NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
has() { # has NAME PATTERN TEXT
	if grep -qE -- "$2" <<<"$3"; then ok "$1"; else fail "$1: no '$2' in: $3"; fi
}
# Other hack/vm runs may come and go meanwhile: ours share this tree, and make
# their run directories in a TMPDIR of our own.
qemus() { pgrep -f "path=$tree,mount_tag=tree" | sort; }
qemus_before=$(qemus)
out=$(mktemp) err=$(mktemp) mark=target/vm-selftest.$$
export TMPDIR=$(mktemp -d)
trap 'rm -rf "$out" "$err" "$mark" "$TMPDIR"' EXIT

echo "# plain guest"
$vm run -- bash -c '
	echo to-stdout; echo to-stderr >&2
	echo "pwd=$(pwd)"
	echo "fstype=$(stat -fc %T /sys/fs/cgroup)"
	echo "v1=$(awk "\$3 == \"cgroup\"" /proc/mounts | wc -l)"
	echo "controllers=$(cat /sys/fs/cgroup/cgroup.controllers)"
	echo "subtree=$(cat /sys/fs/cgroup/cgroup.subtree_control)"
	echo "cgopts=$(awk "\$2 == \"/sys/fs/cgroup\" {print \$4}" /proc/mounts)"
	echo "home=$HOME cargo=$(command -v cargo)"
	echo "runc=$(runc --version | head -1)"
	modprobe veth && echo "veth=$(grep -c "^veth " /proc/modules)"
	echo written > '"$mark"'
' >"$out" 2>"$err"
check "plain: exit 0" 0 $?
o=$(cat "$out") e=$(cat "$err")
has "plain: stdout comes back" '^to-stdout$' "$o"
has "plain: stderr comes back" '^to-stderr$' "$e"
has "plain: boot time printed" '^vm: plain guest up in [0-9.]+ s' "$e"
has "plain: cwd is the caller's" "^pwd=$tree\$" "$o"
has "plain: cgroup2 at /sys/fs/cgroup" '^fstype=cgroup2fs$' "$o"
has "plain: no cgroup v1 mount" '^v1=0$' "$o"
has "plain: nsdelegate" '^cgopts=.*nsdelegate' "$o"
ctrls=$(sed -n 's/^controllers=//p' <<<"$o")
sub=$(sed -n 's/^subtree=//p' <<<"$o")
for c in cpu memory io pids cpuset; do has "plain: controller $c enabled" "(^| )$c( |$)" "$sub"; done
if grep -qw hugetlb <<<"$ctrls"; then has "plain: controller hugetlb enabled" '(^| )hugetlb( |$)' "$sub"; fi
check "plain: every available controller enabled" "$ctrls" "$sub"
has "plain: HOME and cargo" '^home=/root cargo=/root/.cargo/bin/cargo$' "$o"
has "plain: the host's runc" '^runc=runc version' "$o"
has "plain: modules load from /lib/modules" '^veth=1$' "$o"
check "plain: the work tree is written at its own path" written "$(cat $mark 2>/dev/null)"

$vm run -- sh -c 'exit 3' 2>/dev/null
check "plain: exit 3 comes back" 3 $?
$vm run -- no-such-command-xyz >/dev/null 2>"$err"
check "plain: a missing command exits 127" 127 $?
has "plain: and says so" 'no-such-command-xyz: not found' "$(cat "$err")"

$vm run --timeout 20 -- sleep 600 2>"$err"
check "plain: timeout exits 124" 124 $?
has "plain: timeout says so" '^vm: timeout after' "$(cat "$err")"

$vm run -- sleep 600 2>"$err" &
pid=$!
for _ in $(seq 300); do grep -q 'guest up' "$err" && break; sleep 0.2; done
kill -TERM $pid
wait $pid
check "plain: SIGTERM exits 143" 143 $?

echo "# systemd guest"
$vm run --systemd -- bash -c '
	echo "pid1=$(cat /proc/1/comm)"
	echo "state=$(systemctl is-system-running)"
	echo "failed=$(systemctl list-units --failed --no-legend --plain | wc -l)"
	busctl status >/dev/null && echo "bus=ok"
	echo "fstype=$(stat -fc %T /sys/fs/cgroup)"
	echo "v1=$(awk "\$3 == \"cgroup\"" /proc/mounts | wc -l)"
	echo "cgopts=$(awk "\$2 == \"/sys/fs/cgroup\" {print \$4}" /proc/mounts)"
	echo "cgroup=$(cat /proc/self/cgroup)"
	echo "pwd=$(pwd)"
	echo to-stderr >&2
	exit 7
' >"$out" 2>"$err"
check "systemd: exit 7 comes back" 7 $?
o=$(cat "$out") e=$(cat "$err")
has "systemd: PID 1 is systemd" '^pid1=systemd$' "$o"
has "systemd: the system is running" '^state=running$' "$o"
has "systemd: no failed unit" '^failed=0$' "$o"
has "systemd: busctl talks to the bus" '^bus=ok$' "$o"
has "systemd: cgroup2 at /sys/fs/cgroup" '^fstype=cgroup2fs$' "$o"
has "systemd: no cgroup v1 mount" '^v1=0$' "$o"
has "systemd: nsdelegate" '^cgopts=.*nsdelegate' "$o"
has "systemd: the command is a service" '^cgroup=0::/system.slice/hackvm.service$' "$o"
has "systemd: cwd is the caller's" "^pwd=$tree\$" "$o"
has "systemd: stderr comes back" '^to-stderr$' "$e"
has "systemd: boot time printed" '^vm: systemd guest up in [0-9.]+ s' "$e"

echo "# the host afterwards"
check "no qemu left" "$qemus_before" "$(qemus)"
check "no run directory left" "" "$(ls -A "$TMPDIR")"

echo
if [ $fails -eq 0 ]; then echo "hack/vm selftest: all passed"; else echo "hack/vm selftest: $fails failed"; fi
[ $fails -eq 0 ]
