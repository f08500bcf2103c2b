//! Invalid configurations and bundles: create must fail cleanly (non-zero
//! exit, an error message, no container, nothing under --root, no cgroup).

use crate::ensure;
use crate::harness::{t, Bundle, Ctx, TResult, Test};
use serde_json::json;

pub fn tests() -> Vec<Test> {
    vec![
        t("config/invalid/not-json", |c| {
            bad(c, |b| b.raw = Some("{ this is not json".into()))
        }),
        t("config/invalid/no-config-json", |c| {
            bad(c, |b| b.raw = Some(String::new()))
        }),
        t("config/invalid/missing-oci-version", |c| {
            bad(c, |b| {
                b.b.del("/ociVersion");
            })
        }),
        t("config/invalid/missing-root-path", |c| {
            bad(c, |b| {
                b.b.del("/root/path");
            })
        }),
        t("config/invalid/rootfs-does-not-exist", |c| {
            bad(c, |b| {
                b.b.set("/root/path", json!("no-such-rootfs"));
            })
        }),
        t("config/invalid/missing-process-args", |c| {
            bad(c, |b| {
                b.b.del("/process/args");
            })
        }),
        t("config/invalid/empty-process-args", |c| {
            bad(c, |b| {
                b.b.set("/process/args", json!([]));
            })
        }),
        t("config/invalid/relative-cwd", |c| {
            bad(c, |b| {
                b.b.set("/process/cwd", json!("tmp"));
            })
        }),
        t("config/invalid/missing-process-cwd", |c| {
            bad(c, |b| {
                b.b.del("/process/cwd");
            })
        }),
        t("config/invalid/executable-not-found", |c| {
            bad(c, |b| {
                b.b.args(&["/no/such/binary"]);
            })
        }),
        t("config/invalid/unknown-rlimit", |c| {
            bad(c, |b| {
                b.b.set(
                    "/process/rlimits",
                    json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
                );
            })
        }),
        t("config/invalid/rlimit-soft-above-hard", |c| {
            bad(c, |b| {
                b.b.set(
                    "/process/rlimits",
                    json!([{"type": "RLIMIT_NOFILE", "soft": 200, "hard": 100}]),
                );
            })
        }),
        t("config/invalid/oom-score-adj-out-of-range", |c| {
            bad(c, |b| {
                b.b.set("/process/oomScoreAdj", json!(5000));
            })
        }),
        t("config-linux/invalid/unknown-namespace-type", |c| {
            bad(c, |b| {
                b.b.push("/linux/namespaces", json!({"type": "bogus"}));
            })
        }),
        t("config-linux/invalid/duplicate-namespace", |c| {
            bad(c, |b| {
                b.b.push("/linux/namespaces", json!({"type": "uts"}));
            })
        }),
        t("config-linux/invalid/namespace-path-missing", |c| {
            bad(c, |b| {
                b.b.add_ns("network", Some("/proc/self/ns/no-such"));
            })
        }),
        t("config-linux/invalid/namespace-path-wrong-type", |c| {
            bad(c, |b| {
                b.b.add_ns("uts", Some("/proc/1/ns/net"));
            })
        }),
        t("config-linux/invalid/device-bad-type", |c| {
            bad(c, |b| {
                b.b.set(
                    "/linux/devices",
                    json!([{"path": "/dev/x", "type": "x", "major": 1, "minor": 3}]),
                );
            })
        }),
        t("config-linux/invalid/device-path-exists-mismatch", |c| {
            bad(c, |b| {
                b.b.set(
                    "/linux/devices",
                    json!([{"path": "/etc/hosts", "type": "c", "major": 1, "minor": 3}]),
                );
            })
        }),
        t("config-linux/invalid/rootfs-propagation-bogus", |c| {
            bad(c, |b| {
                b.b.set("/linux/rootfsPropagation", json!("bogus"));
            })
        }),
        t("config-linux/invalid/mount-option-bogus-fs", |c| {
            bad(c, |b| {
                b.b.add_mount("/mnt/x", "no-such-fs-type", "none", &[]);
            })
        }),
        t("config-linux/invalid/seccomp-unknown-action", |c| {
            bad(c, |b| {
                b.b.set(
                    "/linux/seccomp",
                    json!({"defaultAction": "SCMP_ACT_BOGUS", "syscalls": []}),
                );
            })
        }),
        t("config-linux/invalid/seccomp-unknown-operator", |c| {
            bad(c, |b| {
                b.b.set("/linux/seccomp", json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]}));
            })
        }),
        t("config-linux/invalid/sysctl-unknown", |c| {
            bad(c, |b| {
                b.b.set("/linux/sysctl", json!({"net.no.such.key": "1"}));
            })
        }),
        t(
            "runtime/lifecycle/create-missing-bundle-fails",
            bundle_missing,
        ),
    ]
}

pub struct Bad<'a> {
    pub b: &'a mut Bundle,
    pub raw: Option<String>,
}

/// Build a valid bundle, break it with `f`, and require create to fail cleanly.
fn bad(ctx: &mut Ctx, f: fn(&mut Bad)) -> TResult {
    let mut b = ctx.bundle();
    b.sh("touch /ran; sleep 1000");
    let cg = format!(
        "/conf-inv-{}-{}",
        std::process::id(),
        crate::harness::next_n()
    );
    b.cgroups_path(&cg);
    let raw = {
        let mut bad = Bad {
            b: &mut b,
            raw: None,
        };
        f(&mut bad);
        bad.raw
    };
    let id = ctx.id();
    match raw {
        Some(s) if s.is_empty() => {}
        Some(s) => b.save_raw(&s)?,
        None => b.save()?,
    }
    let bp = b.path.to_string_lossy().to_string();
    let o = ctx.rt(&["create", "--bundle", &bp, &id]);
    // A runtime may also fail at start (e.g. exec of a missing binary).
    let failed_at_create = !o.ok();
    let failed = failed_at_create || !ctx.rt(&["start", &id]).ok();
    ensure!(!o.timed_out, "create hung: {}", o.brief());
    ensure!(
        failed,
        "invalid config accepted (create and start succeeded)"
    );
    if failed_at_create {
        ensure!(
            !o.stderr.trim().is_empty() || !o.stdout.trim().is_empty(),
            "create failed without an error message"
        );
        let st = ctx.rt(&["state", &id]);
        ensure!(
            !st.ok(),
            "container exists after failed create: {}",
            st.brief()
        );
        ensure!(
            ctx.root_entries().is_empty(),
            "left under --root after failed create: {:?}",
            ctx.root_entries()
        );
        let left = crate::harness::cgroups_named(&cg);
        ensure!(
            left.is_empty(),
            "cgroups left after failed create: {left:?}"
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    ensure!(
        !b.rootfs().join("ran").exists(),
        "the user process ran despite the invalid config"
    );
    Ok(())
}

fn bundle_missing(ctx: &mut Ctx) -> TResult {
    let id = ctx.id();
    let p = ctx.path("no-such-bundle");
    let o = ctx.rt(&["create", "--bundle", &p.to_string_lossy(), &id]);
    ensure!(
        !o.ok() && !o.timed_out,
        "create with a missing bundle succeeded: {}",
        o.brief()
    );
    ensure!(!ctx.rt(&["state", &id]).ok(), "container exists");
    ensure!(
        ctx.root_entries().is_empty(),
        "left under --root: {:?}",
        ctx.root_entries()
    );
    ensure!(
        crate::harness::cgroups_named(&id).is_empty(),
        "cgroups left: {:?}",
        crate::harness::cgroups_named(&id)
    );
    Ok(())
}
