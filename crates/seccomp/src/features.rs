//! What this compiler implements, for the runtime's `features` document:
//! every action, operator, architecture and filter flag `compile` gives a
//! meaning to. The lists are built from exhaustive matches, so a new
//! variant in oci-spec fails to build here until it is decided on.

use oci_spec::runtime::{
    Arch, LinuxSeccompAction as Action, LinuxSeccompFilterFlag as Flag, LinuxSeccompOperator as Op,
};

fn name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Every action (SCMP_ACT_*): all of oci-spec's have a return value in
/// `compile::action_ret`.
pub fn actions() -> Vec<String> {
    let all = [
        Action::ScmpActKill,
        Action::ScmpActKillProcess,
        Action::ScmpActKillThread,
        Action::ScmpActTrap,
        Action::ScmpActErrno,
        Action::ScmpActTrace,
        Action::ScmpActAllow,
        Action::ScmpActLog,
        Action::ScmpActNotify,
    ];
    for a in all {
        // The exhaustive match of the compiler: a new action won't build.
        let _ = crate::compile::action_ret(a, None);
    }
    sorted(all.iter().map(name).collect())
}

/// Every argument comparison (SCMP_CMP_*).
pub fn operators() -> Vec<String> {
    let all = [
        Op::ScmpCmpNe,
        Op::ScmpCmpLt,
        Op::ScmpCmpLe,
        Op::ScmpCmpEq,
        Op::ScmpCmpGe,
        Op::ScmpCmpGt,
        Op::ScmpCmpMaskedEq,
    ];
    for o in all {
        match o {
            Op::ScmpCmpNe
            | Op::ScmpCmpLt
            | Op::ScmpCmpLe
            | Op::ScmpCmpEq
            | Op::ScmpCmpGe
            | Op::ScmpCmpGt
            | Op::ScmpCmpMaskedEq => {}
        }
    }
    sorted(all.iter().map(name).collect())
}

/// The architectures a filter can match on an x86_64 kernel (others can
/// never appear in `seccomp_data.arch` there, and are ignored).
pub fn archs() -> Vec<String> {
    sorted(
        [Arch::ScmpArchX86, Arch::ScmpArchX86_64, Arch::ScmpArchX32]
            .iter()
            .map(name)
            .collect(),
    )
}

/// Every filter flag (SECCOMP_FILTER_FLAG_*) `compile` passes to seccomp(2).
pub fn flags() -> Vec<String> {
    let all = [
        Flag::SeccompFilterFlagTsync,
        Flag::SeccompFilterFlagLog,
        Flag::SeccompFilterFlagSpecAllow,
        Flag::SeccompFilterFlagWaitKillableRecv,
    ];
    for f in all {
        match f {
            Flag::SeccompFilterFlagTsync
            | Flag::SeccompFilterFlagLog
            | Flag::SeccompFilterFlagSpecAllow
            | Flag::SeccompFilterFlagWaitKillableRecv => {}
        }
    }
    sorted(all.iter().map(name).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile that uses every listed name compiles.
    #[test]
    fn every_listed_name_compiles() {
        let syscalls: Vec<serde_json::Value> = actions()
            .iter()
            .filter(|a| *a != "SCMP_ACT_NOTIFY")
            .zip(operators().iter().cycle())
            .map(|(a, o)| {
                serde_json::json!({"names": ["getpid"], "action": a,
                    "args": [{"index": 0, "value": 1, "op": o}]})
            })
            .collect();
        let cfg = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": archs(),
            "flags": flags(),
            "syscalls": syscalls,
        });
        let cfg: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(cfg).unwrap();
        crate::compile(&cfg).unwrap();
        for list in [actions(), operators(), archs(), flags()] {
            assert!(list.iter().all(|n| !n.is_empty()), "{list:?}");
        }
        assert_eq!(actions().len(), 9);
        assert_eq!(operators().len(), 7);
    }
}
