#!/usr/bin/env bash
# Runs inside a hack/vm guest (pure cgroup v2, as root): rootless tong with a
# cgroup v2 subtree delegated to the user (chown'd, as systemd's Delegate=
# does) applies the limits; without delegation it makes no cgroup and
# refuses limits. Usage: hack/vm run --timeout 300 -e TONG=PATH -- tests/vm/rootless-v2.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
tong=${TONG:-$(hack/tong-path release tong)}
fails=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
user=tongrlvm$$
useradd -m -s /bin/sh "$user" || exit 1
uid=$(id -u "$user") gid=$(id -g "$user")
xdg=/tmp/rl-xdg-$$ dg=/sys/fs/cgroup/rl$$
cleanup() {
	pkill -9 -u "$uid" 2>/dev/null; sleep 0.2
	for d in "$dg"/*/ "$dg"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
	userdel -r -f "$user" 2>/dev/null; rm -rf "$xdg"
}
trap cleanup EXIT
mkdir -p "$xdg" && chown "$uid:$gid" "$xdg" && chmod 700 "$xdg"
# The delegated subtree: the user owns the directory and its
# cgroup.procs/subtree_control; this shell moves into a leaf of it first.
echo +pids > /sys/fs/cgroup/cgroup.subtree_control
mkdir "$dg" "$dg/shell"
echo +pids > "$dg/cgroup.subtree_control"
chown "$uid:$gid" "$dg" "$dg/cgroup.procs" "$dg/cgroup.subtree_control" "$dg/shell" "$dg/shell/cgroup.procs"
echo $$ > "$dg/shell/cgroup.procs"
b=/home/$user/b
hack/mkbundle "$b" >/dev/null && rm "$b/config.json" && chown -R "$uid:$gid" "$b"
as_user() { (cd "$b" && setpriv --reuid "$uid" --regid "$gid" --init-groups -- env XDG_RUNTIME_DIR="$xdg" HOME=/home/$user "$@"); }
as_user "$tong" spec --rootless || fail "spec --rootless"
python3 - "$b/config.json" "${dg#/sys/fs/cgroup}" <<'PY'
import json, sys
p, dg = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", "cat /proc/self/cgroup; cat /sys/fs/cgroup/pids.max 2>/dev/null || true"]
c["linux"]["cgroupsPath"] = dg + "/c1"
c["linux"]["resources"] = {"pids": {"limit": 7}}
json.dump(c, open(p, "w"))
PY
grep -q '"cgroup"' "$b/config.json" || fail "spec --rootless on pure v2: no cgroup namespace (runc's has one)"
out=$(as_user "$tong" run c1 2>&1)
# In its cgroup namespace the container sees its own cgroup as / (a cgroup2
# mount over the rbind of the host's /sys: attached from fsmount).
if grep -qx "0::/" <<<"$out" && grep -qx 7 <<<"$out"; then
	ok "delegated: pids.max 7 applied in ${dg#/sys/fs/cgroup}/c1"
else
	fail "delegated: $out"
fi
[ -d "$dg/c1" ] && fail "delegated: $dg/c1 left after run" || ok "delegated: cgroup removed after run"
python3 - "$b/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); del c["linux"]["cgroupsPath"]
# Without spec's cgroup namespace (runc's on a v2 host) /proc/self/cgroup
# names the cgroup tong chose, which is what the cases below check.
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "cgroup"]
json.dump(c, open(sys.argv[1], "w"))
PY
out=$(as_user "$tong" run c2 2>&1)
grep -q "^0::${dg#/sys/fs/cgroup}/c2\$" <<<"$out" && grep -qx 7 <<<"$out" && ok "no cgroupsPath + limits: beside its own cgroup, pids.max 7" || fail "no cgroupsPath + limits: $out"
# Not delegated at all (this shell back in the root cgroup): limits refused,
# none: no cgroup.
echo $$ > /sys/fs/cgroup/cgroup.procs
out=$(as_user "$tong" run c4 2>&1)
grep -q "rootless needs no limits" <<<"$out" && ok "not delegated + limits: refused" || fail "not delegated + limits: $out"
python3 - "$b/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); del c["linux"]["resources"]; json.dump(c, open(sys.argv[1], "w"))
PY
out=$(as_user "$tong" run c5 2>&1)
grep -q "^0::/\$" <<<"$out" && ok "not delegated, no limits: no cgroup of its own" || fail "not delegated, no limits: $out"
echo $$ > "$dg/shell/cgroup.procs"
out=$(as_user "$tong" run c3 2>&1)
# runc's rule without cgroupsPath: beside its own cgroup, here delegated.
grep -q "^0::${dg#/sys/fs/cgroup}/c3\$" <<<"$out" && ok "no cgroupsPath, no limits: beside its own cgroup (as runc)" || fail "no cgroupsPath, no limits: $out"
[ -d "$dg/c3" ] && fail "$dg/c3 left after run" || ok "c3 removed after run"
runc_out=$(as_user runc run r3 2>&1) && ok "runc agrees: $(grep '^0::' <<<"$runc_out")" || echo "note runc: $runc_out"
echo "rootless-v2: $fails failure(s)"
exit $((fails > 0))
