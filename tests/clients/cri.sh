#!/bin/bash
# containerd's CRI plugin (Kubernetes' path: kubelet -> CRI -> runc v2 shim ->
# runtime) with a runc-compatible runtime, driven by a Rust CRI client
# (tests/clients/cri, k8s-cri + tonic over the unix socket; crictl cannot be built
# here). Pod sandboxes, namespaces shared by path, exec/exec -it/attach through
# the streaming server, logs, stats, update, security contexts, sysctls, OOM,
# restarts, user namespaces and rro; plus, run by hand without containerd, the
# bundle shapes containerd 2 sends for idmapped volumes and rro (the acceptance
# tests of those runtime features).
#
#   tests/clients/cri.sh [--runtime runc|/path/to/tong] [--only REGEX] [-v] [--keep]
#
# Needs (Debian 12): containerd containernetworking-plugins busybox-static iproute2
# procps jq, cargo and protobuf-compiler (to build the client), the runtime under test.
# A private containerd (root, state, grpc/ttrpc sockets in a temp dir; its CRI
# with default runtime "rt" = the runc v2 shim with BinaryName=RUNTIME and a private
# Root; netns under its state dir; CNI bridge tgcri<runid> on a free 10.2xx.x.0/24
# with host-local IPAM in the temp dir) is started in the background and killed by
# pid. Pods get the cgroup parent /tgcri<runid>/<pod>. Images (a pause image and
# a busybox test image) are OCI archives built here from busybox-static and
# imported with ctr; nothing is pulled.
# Output: PASS|FAIL|SKIP lines, then "N passed, M failed[, K skipped]".
HERE=$(cd "$(dirname "$0")" && pwd)
# lib.sh resets PATH to the system's: remember where cargo (rustup) is
CARGO_BIN=$(command -v cargo 2>/dev/null || echo "${CARGO_HOME:-$HOME/.cargo}/bin/cargo")
. "$HERE/lib.sh"
tc_parse_args "$@"
[ "$(id -u)" = 0 ] || die "must run as root"

# The runc v2 shim reads a container's cgroups (for stats and OOM events) only
# when every cgroup v1 hierarchy the host has is mounted; on our hybrid VM a
# hierarchy can exist unmounted (hugetlb, after crun's set-up). Then the stage
# runs in a private mount namespace where it is mounted (the host's mounts are
# untouched); CRI_NO_MOUNTNS=1 runs it as is (stats and oom_kill then SKIP, saying why).
mount_v1_hierarchies() {
	local keep d n c
	keep=$(mktemp -d /tmp/tgcri-cgroup.XXXXXX) || return 1
	# /sys/fs/cgroup is a tmpfs shared with the host: no mkdir in it; a new tmpfs
	# over it holds the host's hierarchies (bound back) and the missing ones
	mount --rbind /sys/fs/cgroup "$keep" &&
		mount -t tmpfs -o mode=755 tgcri-cgroup /sys/fs/cgroup || return 1
	for d in "$keep"/*; do
		n=$(basename "$d")
		if [ -L "$d" ]; then cp -P "$d" /sys/fs/cgroup/; else mkdir "/sys/fs/cgroup/$n" && mount --rbind "$d" "/sys/fs/cgroup/$n" || return 1; fi
	done
	for c in "$@"; do
		case $c in
		name=*) mkdir "/sys/fs/cgroup/${c#name=}" && mount -t cgroup -o "none,$c" cgroup "/sys/fs/cgroup/${c#name=}" ;;
		*) mkdir "/sys/fs/cgroup/$c" && mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" ;;
		esac || return 1
	done
	umount -l "$keep" && rmdir "$keep"
}
if [ -n "${TGCRI_MOUNTNS:-}" ]; then
	# shellcheck disable=SC2086
	mount_v1_hierarchies $TGCRI_MOUNTNS || die "could not mount the cgroup v1 hierarchies $TGCRI_MOUNTNS"
elif [ -z "${CRI_NO_MOUNTNS:-}" ]; then
	um=$(cg_v1_unmounted | tr '\n' ' ')
	if [ -n "${um// }" ]; then
		log "cgroup v1 hierarchies not mounted here: $um-> the stage runs in a private mount namespace where they are"
		export TGCRI_MOUNTNS=$um
		exec unshare --mount --propagation private "$0" "$@"
	fi
fi

[ -x "$CARGO_BIN" ] || die "cargo not found (the CRI client is built with it)"
for b in containerd ctr containerd-shim-runc-v2 ip jq protoc gzip; do command -v $b >/dev/null || die "$b not installed"; done
CNI_BIN=/usr/lib/cni
for p in bridge host-local loopback; do [ -x "$CNI_BIN/$p" ] || die "$CNI_BIN/$p missing (install containernetworking-plugins)"; done

# ---------------------------------------------------------------- the client
# Built before the clock of the tests starts (the first build compiles tonic:
# about 80 s on 2 cores (dev profile); then it is cached in tests/clients/cri/target).
CLIENT_DIR=$HERE/cri
build_client() {
	local out
	out=$(cd "$CLIENT_DIR" && PATH="$(dirname "$CARGO_BIN"):$PATH" timeout "${CRI_BUILD_TIMEOUT:-600}" "$CARGO_BIN" build --locked \
		--message-format=json-render-diagnostics 2>"${TMPDIR:-/tmp}/tgcri-build.$$.log")
	local rc=$?
	if [ $rc != 0 ]; then
		tail -30 "${TMPDIR:-/tmp}/tgcri-build.$$.log" >&2; rm -f "${TMPDIR:-/tmp}/tgcri-build.$$.log"
		die "building the CRI client failed (exit $rc)"
	fi
	rm -f "${TMPDIR:-/tmp}/tgcri-build.$$.log"
	CLIENT=$(jq -r 'select(.reason == "compiler-artifact" and .target.name == "tong-cri-test") | .executable // empty' <<<"$out" | tail -1)
	[ -x "$CLIENT" ] || die "no tong-cri-test binary after the build"
}
t0=$(date +%s)
build_client
log "CRI client: $CLIENT (build $(( $(date +%s) - t0 ))s)"
TC_START=$(date +%s)
# a pod per scenario: the CRI run needs more than the other scripts' 180 s
TC_BUDGET=${CLIENT_TEST_BUDGET:-300}

tc_init cri
NET=tgcri$RUNID         # CNI network and bridge name
CG=tgcri$RUNID          # top cgroup of the pods and bundles
IMG=localhost/tgcri-busybox:1
PAUSE=localhost/tgcri-pause:1
C_ADDR="$T/c/containerd.sock"
RT_ROOT="$T/rt"
SUBNET=$(free_subnet) || die "no free subnet"

# ---------------------------------------------------------------- setup
CREATED_DIRS=()
mkdir -p "$T/c"/{root,state,opt} "$T/cni"/{conf,ipam} "$T/logs" "$T/vols" "$T/bundles" "$RT_ROOT"
# (libcni keeps its result cache in /var/lib/cni/results, not configurable in containerd 1.6)
for d in /run/containerd /run/containerd/s /var/lib/cni /var/lib/cni/results; do
	[ -d "$d" ] || CREATED_DIRS+=("$d")
done
cat >"$T/cni/conf/10-$NET.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "$NET",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NET",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$SUBNET.0/24" }]],
        "dataDir": "$T/cni/ipam"
      }
    }
  ]
}
EOF
cat >"$T/c/config.toml" <<EOF
version = 2
root = "$T/c/root"
state = "$T/c/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$C_ADDR"
[ttrpc]
  address = "$C_ADDR.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$T/c/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_tls_streaming = false
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  enable_selinux = false
  # the pause container asks oom_score_adj -998: lowering it needs CAP_SYS_RESOURCE,
  # which this CI VM lacks (every runtime fails); clamp to containerd's own, as rootless setups do
  restrict_oom_score_adj = true
  max_container_log_line_size = 16384
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "rt"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rt]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rt.options]
        BinaryName = "$RUNTIME_PATH"
        Root = "$RT_ROOT"
        SystemdCgroup = false
  # every image is imported; should anything still try to pull, it goes nowhere
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
    endpoint = ["http://127.0.0.1:9"]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."registry.k8s.io"]
    endpoint = ["http://127.0.0.1:9"]
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$T/cni/conf"
    max_conf_num = 1
EOF

containerd --config "$T/c/config.toml" --log-level warn >"$T/c/containerd.log" 2>&1 &
C_PID=$!
mkdir -p "$T/bin"
cat >"$T/bin/C" <<EOF
#!/bin/sh
exec ctr --address "$C_ADDR" --namespace k8s.io "\$@"
EOF
chmod +x "$T/bin/C"
export PATH="$T/bin:$PATH"
unset CONTAINERD_NAMESPACE CONTAINERD_ADDRESS

export TGCRI_SOCK=$C_ADDR TGCRI_DIR=$T TGCRI_RUNID=$RUNID TGCRI_IMAGE=$IMG TGCRI_SUBNET=$SUBNET \
	TGCRI_CGROUP=$CG TGCRI_RUNTIME=$RUNTIME_PATH TGCRI_RUNTIME_ROOT=$RT_ROOT TGCRI_ROOTFS=$T/img/rootfs

no_shims() { [ -z "$(pids_matching "$C_ADDR" | while read -r p; do grep -qa containerd-shim "/proc/$p/cmdline" 2>/dev/null && echo "$p"; done)" ]; }
cri_cleanup() {
	# through the CRI first (pods, then their containers go with them); short
	# timeouts, and the rest by pid/path if containerd or a runtime call hangs
	if kill -0 "$C_PID" 2>/dev/null; then
		timeout 60 "$CLIENT" cleanup >&2
		wait_for 10 no_shims
	fi
	local socks; socks=$(shim_sockets_under "$T")
	kill_pid "$C_PID" 20
	kill_procs_under "$T"       # shims of this run
	[ -n "$socks" ] && rm -f $socks
	kill_cgroup_procs "$CG"     # anything still in our cgroups (containers, bundles)
	umount_under "$T"
	rmdir_cgroup "$CG"
	ip link del "$NET" 2>/dev/null
	# libcni's result cache (its path is not configurable in containerd 1.6)
	rm -f /var/lib/cni/results/"$NET"-* 2>/dev/null
	local i
	for (( i=${#CREATED_DIRS[@]}-1; i>=0; i-- )); do rmdir "${CREATED_DIRS[$i]}" 2>/dev/null; done
	return 0
}
add_cleanup cri_cleanup
LEAK_CGROUPS+=("$CG")
LEAK_LINKS+=("$NET")

cni_cache_left() { compgen -G "/var/lib/cni/results/$NET-*" >/dev/null; }

wait_for 30 C version || { cat "$T/c/containerd.log" >&2; die "containerd did not start"; }

# make_oci_archive OUT NAME LAYER_TAR CONFIG_JSON: an OCI image layout tarball
# (oci-layout, index.json naming the image, manifest, config, one gzip layer)
make_oci_archive() {
	local out=$1 name=$2 layer=$3 cfg=$4
	local d; d=$(mktemp -d "$T/oci.XXXX")
	mkdir -p "$d/blobs/sha256"
	local diff_id gz gz_sha gz_size cfg_json cfg_sha cfg_size man man_sha man_size arch
	arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
	diff_id=$(sha256 "$layer")
	gz="$d/layer.tar.gz"
	gzip -n -c "$layer" >"$gz"
	gz_sha=$(sha256 "$gz") gz_size=$(stat -c %s "$gz")
	mv "$gz" "$d/blobs/sha256/$gz_sha"
	cfg_json=$(jq -cn --arg arch "$arch" --arg diff "sha256:$diff_id" --argjson c "$cfg" \
		'{architecture: $arch, os: "linux", created: "2024-01-01T00:00:00Z", config: $c,
		  rootfs: {type: "layers", diff_ids: [$diff]},
		  history: [{created: "2024-01-01T00:00:00Z", created_by: "tong tests/clients/cri.sh"}]}')
	printf '%s' "$cfg_json" >"$d/config"
	cfg_sha=$(sha256 "$d/config") cfg_size=$(stat -c %s "$d/config")
	mv "$d/config" "$d/blobs/sha256/$cfg_sha"
	man=$(jq -cn --arg c "sha256:$cfg_sha" --argjson cs "$cfg_size" --arg l "sha256:$gz_sha" --argjson ls "$gz_size" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
		  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
		  layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]}')
	printf '%s' "$man" >"$d/manifest"
	man_sha=$(sha256 "$d/manifest") man_size=$(stat -c %s "$d/manifest")
	mv "$d/manifest" "$d/blobs/sha256/$man_sha"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
	jq -cn --arg m "sha256:$man_sha" --argjson ms "$man_size" --arg n "$name" --arg tag "${name##*:}" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
		  manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
		               annotations: {"io.containerd.image.name": $n, "org.opencontainers.image.ref.name": $tag}}]}' >"$d/index.json"
	tar --numeric-owner --owner=0 --group=0 -C "$d" -cf "$out" oci-layout index.json blobs
	rm -rf "$d"
}

# ---------------------------------------------------------------- tests
test_image_import() {
	mkdir -p "$T/img"
	build_rootfs "$T/img/rootfs"
	make_tar "$T/img/rootfs" "$T/img/rootfs.tar"
	local path='"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"'
	# the pause image: pid 1 sleeps until SIGTERM/SIGINT
	make_oci_archive "$T/img/pause.tar" "$PAUSE" "$T/img/rootfs.tar" \
		"{\"Env\":[$path],\"Entrypoint\":[\"/bin/sh\",\"-c\",\"trap 'exit 0' TERM INT; while :; do sleep 3600 & wait \$!; done\"],\"WorkingDir\":\"/\"}"
	make_oci_archive "$T/img/busybox.tar" "$IMG" "$T/img/rootfs.tar" \
		"{\"Env\":[$path],\"Cmd\":[\"/bin/sh\"],\"WorkingDir\":\"/\"}"
	rm -f "$T/img/rootfs.tar"
	local i
	for i in pause busybox; do
		R -t 60 C images import "$T/img/$i.tar"; expect_ok "ctr -n k8s.io images import ($i, OCI layout)" || return
	done
	R C images ls -q; expect_out "^$PAUSE\$" "pause image listed"; expect_out "^$IMG\$" "test image listed"
}

# cri_scenario NAME: one scenario of the client (exit 0 pass, 77 skip, else fail;
# the reason on stdout, notes "# ..." on stderr)
cri_scenario() {
	R -t 120 "$CLIENT" scenario "$1"
	local notes; notes=$(printf '%s\n' "$ERR" | grep '^# ')
	[ -n "$notes" ] && printf '%s\n' "$notes" >&2
	case $RC in
	0) ;;
	77) skip "$(printf '%s\n' "$OUT" | tail -1)" ;;
	*) fail "$(printf '%s\n' "$OUT"; printf '%s\n' "$ERR" | grep -v '^# ' | tail -5)
$([ "$RC" = 124 ] || [ "$RC" = 137 ] && echo "[timed out]")" ;;
	esac
}

t_cri_cleanup_check() {
	t_cleanup_check
	cni_cache_left && fail "CNI result cache left: $(ls /var/lib/cni/results/"$NET"-* 2>/dev/null)"
	return 0
}

t image_import test_image_import
[ "$TC_FAIL" = 0 ] || die "the images could not be imported: nothing else can run (and containerd would try to pull them)"
for s in $("$CLIENT" list); do
	t "$s" cri_scenario "$s"
done
t cleanup t_cri_cleanup_check
tc_summary
