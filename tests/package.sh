#!/usr/bin/env bash
# The Debian package end to end, as root (hack/test's `package` stage):
#   1. hack/package builds target/debian/tong_*.deb and lintian checks it;
#   2. `apt-get install ./tong_*.deb` installs it;
#   3. what it installed works: /usr/bin/tong runs a busybox container
#      (hack/mkbundle), the man pages open with man(1), bash completes from the
#      installed script, containerd and Podman read the shipped examples;
#   4. `apt-get purge tong` removes it: dpkg knows no tong and none of its
#      files is left.
# The machine is restored even when a step fails (the container deleted, the
# package purged, the temp dir and podman's /run/containers removed). A tong package installed before the
# test is left alone: the test refuses to run.
set -uo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
[ "$(id -u)" = 0 ] || { echo "tests/package.sh: must run as root" >&2; exit 1; }

failed=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
installed() { dpkg-query -W -f='${Status}' tong 2>/dev/null | grep -q "install ok installed"; }
apt() { apt-get -y -q -o DPkg::Lock::Timeout=300 "$@" </dev/null; }

if dpkg-query -W tong >/dev/null 2>&1; then
	echo "tests/package.sh: a tong package is already on this machine ($(dpkg-query -W -f='${Version} ${Status}' tong)); purge it first" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/tong-package.XXXXXX)
chmod 755 "$tmp"   # apt's _apt user reads the .deb from here
id=pkg-test-$$
cleanup() {
	if [ -x /usr/bin/tong ]; then
		/usr/bin/tong --root "$tmp/root" delete --force "$id" >/dev/null 2>&1
	fi
	if dpkg-query -W tong >/dev/null 2>&1; then
		apt purge tong >/dev/null 2>&1 || dpkg --purge tong >/dev/null 2>&1
	fi
	[ -n "${made_run_containers:-}" ] && rmdir /run/containers/networks /run/containers 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# 1. build (and lintian)
deb=$(hack/package) || { bad "hack/package"; exit 1; }
ok "hack/package: $deb (lintian clean)"
cp "$deb" "$tmp/"
deb=$tmp/$(basename "$deb")

# 2. install
if apt install "$deb" >"$tmp/apt-install.log" 2>&1 && installed; then
	ok "apt-get install ./$(basename "$deb")"
else
	cat "$tmp/apt-install.log"
	bad "apt-get install"; exit 1
fi
dpkg -L tong | sort >"$tmp/files"
grep -v '^/\.$' "$tmp/files" | while read -r f; do [ -d "$f" ] || echo "$f"; done >"$tmp/plain-files"
for f in /usr/bin/tong /usr/share/man/man8/tong.8.gz /usr/share/man/man8/tong-run.8.gz \
	/usr/share/bash-completion/completions/tong /usr/share/zsh/vendor-completions/_tong \
	/usr/share/fish/vendor_completions.d/tong.fish /usr/share/doc/tong/copyright \
	/usr/share/doc/tong/changelog.gz /usr/share/doc/tong/changelog.Debian.gz \
	/usr/share/doc/tong/README.md.gz /usr/share/doc/tong/SECURITY.md.gz \
	/usr/share/doc/tong/examples/containerd-config.toml /usr/share/doc/tong/examples/containers.conf \
	/usr/share/doc/tong/examples/daemon.json; do
	grep -qxF "$f" "$tmp/files" || bad "package lacks $f"
done
ok "$(wc -l <"$tmp/plain-files") files installed"

# 3. it works
check "tong on PATH is /usr/bin/tong" [ "$(command -v tong)" = /usr/bin/tong ]
v=$(/usr/bin/tong --version)
check "tong --version: $(echo "$v" | head -1)" grep -qx "tong version $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" <<<"$v"
hack/mkbundle "$tmp/bundle" --args 'sh -c "echo hello from the tong package; id -u; cat /proc/self/cgroup >/dev/null"' >/dev/null
out=$(timeout 60 /usr/bin/tong --root "$tmp/root" run --bundle "$tmp/bundle" "$id" 2>"$tmp/run.err")
rc=$?
check "/usr/bin/tong run: exit 0, the container's output" [ "$rc:$out" = $'0:hello from the tong package\n0' ]
[ "$rc" = 0 ] || cat "$tmp/run.err"
check "the container is gone after run" [ -z "$(/usr/bin/tong --root "$tmp/root" list -q 2>&1)" ]
check "man -w tong-create finds the installed page" [ "$(man -w tong-create)" = /usr/share/man/man8/tong-create.8.gz ]
check "man tong-run shows its flags" grep -q -- "--detach" <<<"$(MANWIDTH=120 man tong-run 2>/dev/null)"
complete_bash() {
	bash --norc -c 'source /usr/share/bash-completion/completions/tong
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_tong tong "${@: -1}" "${@: -2:1}"; echo "${COMPREPLY[*]}"' bash "$@"
}
check "bash completes 'tong cr' to create" [ "$(complete_bash tong cr)" = create ]
check "bash completes 'tong run --det' to --detach" [ "$(complete_bash tong run --det)" = --detach ]
ex=/usr/share/doc/tong/examples
check "daemon.json examples are JSON with runtimes.tong.path /usr/bin/tong" python3 -c '
import json, sys
for f in sys.argv[1:]:
    assert json.load(open(f))["runtimes"]["tong"]["path"] == "/usr/bin/tong", f' "$ex/daemon.json" "$ex/daemon-default.json"
check "containerd and Podman examples are TOML" python3 -c '
import sys, tomllib
for f in sys.argv[1:]:
    tomllib.load(open(f, "rb"))' "$ex/containerd-config.toml" "$ex/containerd2-config.toml" "$ex/containers.conf"
if command -v containerd >/dev/null; then
	check "containerd reads the CRI runtime tong with BinaryName /usr/bin/tong" \
		grep -q 'BinaryName = "/usr/bin/tong"' <<<"$(containerd --config "$ex/containerd-config.toml" config dump 2>&1)"
fi
if command -v podman >/dev/null; then
	# podman makes netavark's run directory even for `info`; ours to remove
	# only if it was not there before.
	[ -e /run/containers ] || made_run_containers=1
	p=$tmp/podman
	rt=$(CONTAINERS_CONF=$ex/containers.conf timeout 60 podman --root "$p/root" --runroot "$p/run" \
		--tmpdir "$p/tmp" --network-config-dir "$p/net" --storage-driver vfs --events-backend none \
		info --format '{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}}' 2>&1)
	check "podman with the example containers.conf uses tong ($rt)" [ "$rt" = "tong /usr/bin/tong" ]
fi

# 4. purge
if apt purge tong >"$tmp/apt-purge.log" 2>&1 && ! dpkg-query -W tong >/dev/null 2>&1; then
	ok "apt-get purge tong; dpkg knows no tong"
else
	cat "$tmp/apt-purge.log"; bad "apt-get purge tong"
fi
left=$(while read -r f; do [ -e "$f" ] && echo "$f"; done <"$tmp/plain-files")
check "no file of the package is left${left:+: $left}" [ -z "$left" ]
check "/usr/share/doc/tong is gone" [ ! -e /usr/share/doc/tong ]
check "dpkg -L tong is empty" [ -z "$(dpkg -L tong 2>/dev/null)" ]

echo
[ "$failed" = 0 ] && echo "package: all checks passed" || echo "package: $failed check(s) failed"
[ "$failed" = 0 ]
