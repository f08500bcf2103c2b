#!/usr/bin/env bash
# Runs inside `hack/vm run --systemd` (tests/vm/systemd.sh calls it): rootless
# tong with --systemd-cgroup, the container's cgroup a transient scope made by
# the user's own systemd instance over the user's D-Bus session bus, and runc
# (Debian's 1.1.5) as the oracle, each through the same checks.
#
# The user: made here (useradd, a subuid/subgid range), its manager started by
# root with `systemctl start user@UID.service`, no login session and no
# loginctl: that is the unit logind would start at a first login (lingering
# starts the same one at boot); it brings up /run/user/UID
# (user-runtime-dir@UID.service) and the user's D-Bus (dbus.socket of the
# user instance, Debian's dbus-user-session), and systemd delegates its
# control group to it (user@.service: Delegate=pids memory cpu).
#
# The runtimes run as the user through setpriv from this root service's
# cgroup, as from a root shell's runuser: outside the user manager's tree, so
# the user may not move a process into the scope itself (the kernel wants
# write access to the common ancestor, here the root). systemd does it for
# the init (PIDs= of the new scope); `exec` falls back to asking it
# (AttachProcessesToUnit). Checked from the host: the unit's properties
# (systemctl --user as the user), the scope's cgroup files, nothing left.
# Usage: hack/vm run --systemd --timeout 300 -- tests/vm/rootless-systemd.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
tong=${TONG:-$(hack/tong-path "${TONG_PROFILE:-release}" tong)}
runc=${RUNC:-/usr/sbin/runc}
[ "$(cat /proc/1/comm)" = systemd ] || { echo "rootless-systemd.sh: needs systemd as PID 1 (hack/vm run --systemd)"; exit 1; }
fails=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
expect() { if [ "$2" = "$3" ]; then ok "$1 = $3"; else fail "$1: want '$2', got '$3'"; fi; }
user=tongsd$$
useradd -m -s /bin/sh "$user" || exit 1
uid=$(id -u "$user") gid=$(id -g "$user")
cleanup() {
	systemctl stop "user@$uid.service" 2>/dev/null
	userdel -r -f "$user" 2>/dev/null
	sed -i "/^$user:/d" /etc/subuid /etc/subgid
}
trap cleanup EXIT
echo "$user:300000:65536" >>/etc/subuid
echo "$user:300000:65536" >>/etc/subgid
t0=$SECONDS
systemctl start "user@$uid.service" || { fail "systemctl start user@$uid.service"; exit 1; }
ok "user manager user@$uid.service started ($((SECONDS - t0)) s)"
mgr=/user.slice/user-$uid.slice/user@$uid.service
run=/run/user/$uid
as_user() {
	(cd "$b" && setpriv --reuid "$uid" --regid "$gid" --init-groups -- env -i PATH="$PATH" HOME="/home/$user" \
		USER="$user" XDG_RUNTIME_DIR="$run" DBUS_SESSION_BUS_ADDRESS="unix:path=$run/bus" "$@")
}
# props UNIT PROP...: the unit's properties into P (one systemctl each time:
# every process costs under TCG)
declare -A P
props() {
	local u=$1 k v; shift
	P=()
	while IFS='=' read -r k v; do P[$k]=$v; done < <(as_user systemctl --user show "$u" "${@/#/-p}" 2>&1)
}
# field NAME: a number or word field of the JSON on stdin (state's pid, status)
field() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",]*\).*/\1/p" | head -1; }
status() { as_user "$@" 2>/dev/null | field status; }
gone() { # UNIT DIR: no unit listed, no cgroup directory
	local i
	for i in $(seq 50); do
		as_user systemctl --user list-units --all --no-legend "$1" | grep -q . || { [ -d "$2" ] || return 0; }
		sleep 0.1
	done
	return 1
}

b=/home/$user/b
hack/mkbundle "$b" >/dev/null && rm "$b/config.json" && chown -R "$uid:$gid" "$b"
as_user "$tong" spec --rootless || { fail "tong spec --rootless"; exit 1; }
# config.json with cgroupsPath $1, memory and pids limits
mkcfg() {
	python3 - "$b/config.json" "$1" <<-'PY'
	import json, sys
	p, cp = sys.argv[1], sys.argv[2]
	c = json.load(open(p))
	c["process"]["terminal"] = False
	c["process"]["args"] = ["sleep", "600"]
	c["linux"]["cgroupsPath"] = cp
	c["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 77}}
	json.dump(c, open(p, "w"))
	PY
}

# lifecycle RT NAME CGROUPSPATH UNIT SLICEDIR (relative to the user manager's cgroup)
lifecycle() {
	local rt=$1 name=$2 unit=$4 cg=$mgr/$5/$4 id="sdu-$2-$$"
	local dir=/sys/fs/cgroup$cg R=("$1" --systemd-cgroup)
	mkcfg "$3"
	local t0=$SECONDS
	if ! as_user "${R[@]}" create "$id" </dev/null >"$b/out" 2>&1; then
		fail "$name: create: $(cat "$b/out")"; return
	fi
	ok "$name: create ($((SECONDS - t0)) s)"
	t0=$SECONDS
	props "$unit" ActiveState Delegate ControlGroup MemoryMax TasksMax
	expect "$name: $unit ActiveState" active "${P[ActiveState]}"
	expect "$name: Delegate" yes "${P[Delegate]}"
	expect "$name: ControlGroup" "$cg" "${P[ControlGroup]}"
	expect "$name: MemoryMax" 67108864 "${P[MemoryMax]}"
	expect "$name: TasksMax" 77 "${P[TasksMax]}"
	expect "$name: memory.max" 67108864 "$(cat "$dir/memory.max" 2>&1)"
	expect "$name: pids.max" 77 "$(cat "$dir/pids.max" 2>&1)"
	expect "$name: the scope's cgroup is the user's" "$uid" "$(stat -c %u "$dir" 2>&1)"
	local pid; pid=$(as_user "${R[@]}" state "$id" | field pid)
	expect "$name: init's cgroup" "0::$cg" "$(cat /proc/$pid/cgroup 2>&1)"
	as_user "${R[@]}" start "$id" || fail "$name: start"
	# This shell's cgroup is root's: the exec'd process reaches the scope
	# only through systemd.
	as_user "${R[@]}" exec -d "$id" sleep 500 </dev/null >"$b/out" 2>&1 || fail "$name: exec -d: $(cat "$b/out")"
	local n=2 procs; procs=$(wc -l <"$dir/cgroup.procs" 2>&1)
	if [ "$rt" = "$runc" ] && [ "$procs" = 1 ]; then
		# runc 1.1.5 ignores a failed cgroup join of a rootless exec (the
		# process stays in the caller's cgroup); runc 1.2 asks systemd.
		echo "note $name: the exec'd process is not in the scope (runc 1.1.5 ignores the refused move)"
		n=1
	else
		expect "$name: processes in the scope after exec (systemd moved the exec'd one)" 2 "$procs"
	fi
	expect "$name: ps --format json lists" $n "$(as_user "${R[@]}" ps --format json "$id" 2>/dev/null | grep -o '[0-9]\+' | wc -l)"
	as_user "${R[@]}" pause "$id" || fail "$name: pause"
	expect "$name: paused cgroup.freeze" 1 "$(cat "$dir/cgroup.freeze" 2>&1)"
	expect "$name: status paused" paused "$(status "${R[@]}" state "$id")"
	as_user "${R[@]}" resume "$id" || fail "$name: resume"
	expect "$name: resumed cgroup.freeze" 0 "$(cat "$dir/cgroup.freeze" 2>&1)"
	as_user "${R[@]}" update --memory 96M --pids-limit 88 "$id" || fail "$name: update"
	props "$unit" MemoryMax TasksMax
	expect "$name: updated MemoryMax" 100663296 "${P[MemoryMax]}"
	expect "$name: updated TasksMax" 88 "${P[TasksMax]}"
	expect "$name: updated memory.max" 100663296 "$(cat "$dir/memory.max" 2>&1)"
	expect "$name: updated pids.max" 88 "$(cat "$dir/pids.max" 2>&1)"
	local ev; ev=$(as_user timeout 10 "${R[@]}" events --stats "$id" 2>&1)
	expect "$name: events --stats (pids current, limit, memory limit)" "$n 88 100663296" "$(python3 -c '
import json, sys
d = json.loads(sys.argv[1])["data"]
print(d["pids"]["current"], d["pids"].get("limit"), d["memory"]["usage"]["limit"])' "$ev" 2>/dev/null || echo "$ev")"
	as_user "${R[@]}" kill "$id" KILL || fail "$name: kill"
	for _ in $(seq 50); do [ "$(status "${R[@]}" state "$id")" = stopped ] && break; sleep 0.1; done
	as_user "${R[@]}" delete "$id" || fail "$name: delete"
	if gone "$unit" "$dir"; then ok "$name: unit and cgroup gone after delete"; else fail "$name: left $unit $(ls -d "$dir" 2>&1)"; fi
	echo "     ($name: $((SECONDS - t0)) s after create)"
}

lifecycle "$tong" tong "user.slice:tongu:c$$" "tongu-c$$.scope" user.slice
lifecycle "$runc" runc "user.slice:runcu:c$$" "runcu-c$$.scope" user.slice

# No cgroupsPath: runc's default slice for a user instance is user.slice;
# run -d, and delete --force stops the scope of a running container.
mkcfg ""
for rt in "$tong" "$runc"; do
	n=$(basename "$rt") id=sdu-default-$$
	if as_user "$rt" --systemd-cgroup run -d "$id" </dev/null >"$b/out" 2>&1; then
		props "$n-$id.scope" ActiveState
		expect "$n, no cgroupsPath: $n-$id.scope in user.slice" active "${P[ActiveState]}"
		[ -d "/sys/fs/cgroup$mgr/user.slice/$n-$id.scope" ] && ok "$n: $mgr/user.slice/$n-$id.scope" || fail "$n: no $mgr/user.slice/$n-$id.scope"
		if [ "$rt" = "$tong" ]; then
			# exec from inside the user manager's tree (a desktop session's
			# terminal, a user service): the user may move it, no systemd call.
			as_user systemd-run --user --scope --quiet "$rt" --debug --systemd-cgroup exec -d "$id" sleep 400 </dev/null >"$b/out" 2>&1 ||
				fail "$n: exec -d from a user scope: $(cat "$b/out")"
			expect "$n: exec -d from a scope of the user instance: processes in the container's scope" 2 \
				"$(wc -l <"/sys/fs/cgroup$mgr/user.slice/$n-$id.scope/cgroup.procs" 2>&1)"
			grep -q 'asking the systemd user instance' "$b/out" && fail "$n: exec -d from a user scope needed systemd"
		fi
		as_user "$rt" --systemd-cgroup delete --force "$id" || fail "$n: delete --force"
		gone "$n-$id.scope" "/sys/fs/cgroup$mgr/user.slice/$n-$id.scope" && ok "$n: delete --force: scope gone" || fail "$n: delete --force: scope left"
	else
		fail "$n, no cgroupsPath: $(cat "$b/out")"
	fi
done

# No user bus: one line that says so, nothing left.
mkcfg "user.slice:tongu:nobus"
out=$(as_user env DBUS_SESSION_BUS_ADDRESS=unix:path=$run/no-such-bus "$tong" --systemd-cgroup run -d nobus-$$ </dev/null 2>&1)
rc=$?
if [ $rc -ne 0 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q 'systemd user instance not reachable' <<<"$out"; then
	ok "no user bus: $out"
else
	fail "no user bus (rc $rc): $out"
fi
[ -z "$(ls "$run/tong" 2>/dev/null)" ] && ok "no user bus: no state left" || fail "no user bus: state left: $(ls "$run/tong")"
out=$(as_user env DBUS_SESSION_BUS_ADDRESS=unix:path=$run/no-such-bus "$runc" --systemd-cgroup run -d nobus-$$ </dev/null 2>&1)
echo "note runc without a user bus: $out"
echo
if [ $fails -eq 0 ]; then echo "rootless-systemd: all passed ($SECONDS s)"; else echo "rootless-systemd: $fails failed ($SECONDS s)"; fi
[ $fails -eq 0 ]
