//! The one table of mount options: what each known option does (a mount(2)
//! flag to set or clear, a recursive mount_setattr(2) attribute, a
//! propagation, or one of the extensions: tmpcopyup, idmap, ridmap). `parse`
//! uses it, `features` lists it, and bundle.rs refuses an option it lacks on
//! a bind mount (runc 1.2); on other mounts an unknown option is filesystem
//! data passed to the kernel.

use nix::mount::MsFlags;

/// mount_setattr(2) attributes (linux/mount.h).
pub mod attr {
    pub const RDONLY: u64 = 0x0000_0001;
    pub const NOSUID: u64 = 0x0000_0002;
    pub const NODEV: u64 = 0x0000_0004;
    pub const NOEXEC: u64 = 0x0000_0008;
    /// The atime mode is a 3-valued field, not a bit: RELATIME is 0.
    pub const ATIME_MASK: u64 = 0x0000_0070;
    pub const RELATIME: u64 = 0x0000_0000;
    pub const NOATIME: u64 = 0x0000_0010;
    pub const STRICTATIME: u64 = 0x0000_0020;
    pub const NODIRATIME: u64 = 0x0000_0080;
    pub const IDMAP: u64 = 0x0010_0000;
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

/// What one option does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Effect {
    /// mount(2) flags to set and to clear.
    Flag {
        set: libc::c_ulong,
        clear: libc::c_ulong,
    },
    /// mount_setattr(2) attributes, applied with AT_RECURSIVE to the whole tree.
    Recursive {
        set: u64,
        clear: u64,
    },
    Propagation(libc::c_ulong),
    TmpCopyUp,
    /// An idmapped mount (the mount's own uidMappings/gidMappings, else the
    /// container's user namespace); `recursive` idmaps every submount too.
    IdMap {
        recursive: bool,
    },
}

use Effect::*;

const fn set(f: libc::c_ulong) -> Effect {
    Flag { set: f, clear: 0 }
}
const fn clear(f: libc::c_ulong) -> Effect {
    Flag { set: 0, clear: f }
}
const fn rset(a: u64) -> Effect {
    Recursive { set: a, clear: 0 }
}
const fn rclear(a: u64) -> Effect {
    Recursive { set: 0, clear: a }
}
/// An atime mode: the kernel takes one only with the whole field cleared.
const fn ratime(mode: u64) -> Effect {
    Recursive {
        set: mode,
        clear: attr::ATIME_MASK,
    }
}

/// Every option tong knows, runc's names (runc 1.2's table plus idmap/ridmap).
pub const TABLE: &[(&str, Effect)] = &[
    ("defaults", set(0)),
    ("ro", set(libc::MS_RDONLY)),
    ("rw", clear(libc::MS_RDONLY)),
    ("nosuid", set(libc::MS_NOSUID)),
    ("suid", clear(libc::MS_NOSUID)),
    ("nodev", set(libc::MS_NODEV)),
    ("dev", clear(libc::MS_NODEV)),
    ("noexec", set(libc::MS_NOEXEC)),
    ("exec", clear(libc::MS_NOEXEC)),
    ("sync", set(libc::MS_SYNCHRONOUS)),
    ("async", clear(libc::MS_SYNCHRONOUS)),
    ("dirsync", set(libc::MS_DIRSYNC)),
    ("remount", set(libc::MS_REMOUNT)),
    ("mand", set(libc::MS_MANDLOCK)),
    ("nomand", clear(libc::MS_MANDLOCK)),
    ("atime", clear(libc::MS_NOATIME)),
    ("noatime", set(libc::MS_NOATIME)),
    ("diratime", clear(libc::MS_NODIRATIME)),
    ("nodiratime", set(libc::MS_NODIRATIME)),
    ("relatime", set(libc::MS_RELATIME)),
    ("norelatime", clear(libc::MS_RELATIME)),
    ("strictatime", set(libc::MS_STRICTATIME)),
    ("nostrictatime", clear(libc::MS_STRICTATIME)),
    ("nosymfollow", set(libc::MS_NOSYMFOLLOW)),
    ("symfollow", clear(libc::MS_NOSYMFOLLOW)),
    ("iversion", set(libc::MS_I_VERSION)),
    ("noiversion", clear(libc::MS_I_VERSION)),
    ("lazytime", set(libc::MS_LAZYTIME)),
    ("nolazytime", clear(libc::MS_LAZYTIME)),
    ("silent", set(libc::MS_SILENT)),
    ("loud", clear(libc::MS_SILENT)),
    ("bind", set(libc::MS_BIND)),
    ("rbind", set(libc::MS_BIND | libc::MS_REC)),
    ("rro", rset(attr::RDONLY)),
    ("rrw", rclear(attr::RDONLY)),
    ("rnosuid", rset(attr::NOSUID)),
    ("rsuid", rclear(attr::NOSUID)),
    ("rnodev", rset(attr::NODEV)),
    ("rdev", rclear(attr::NODEV)),
    ("rnoexec", rset(attr::NOEXEC)),
    ("rexec", rclear(attr::NOEXEC)),
    ("rnodiratime", rset(attr::NODIRATIME)),
    ("rdiratime", rclear(attr::NODIRATIME)),
    ("rnoatime", ratime(attr::NOATIME)),
    // "Not noatime" is the kernel's default mode, relatime (as mount(8)'s atime).
    ("ratime", ratime(attr::RELATIME)),
    ("rrelatime", ratime(attr::RELATIME)),
    // Not relatime, and not noatime: every access updates atime.
    ("rnorelatime", ratime(attr::STRICTATIME)),
    ("rstrictatime", ratime(attr::STRICTATIME)),
    ("rnostrictatime", ratime(attr::RELATIME)),
    ("rnosymfollow", rset(attr::NOSYMFOLLOW)),
    ("rsymfollow", rclear(attr::NOSYMFOLLOW)),
    ("private", Propagation(libc::MS_PRIVATE)),
    ("rprivate", Propagation(libc::MS_PRIVATE | libc::MS_REC)),
    ("shared", Propagation(libc::MS_SHARED)),
    ("rshared", Propagation(libc::MS_SHARED | libc::MS_REC)),
    ("slave", Propagation(libc::MS_SLAVE)),
    ("rslave", Propagation(libc::MS_SLAVE | libc::MS_REC)),
    ("unbindable", Propagation(libc::MS_UNBINDABLE)),
    (
        "runbindable",
        Propagation(libc::MS_UNBINDABLE | libc::MS_REC),
    ),
    ("tmpcopyup", TmpCopyUp),
    ("idmap", IdMap { recursive: false }),
    ("ridmap", IdMap { recursive: true }),
];

pub fn lookup(name: &str) -> Option<Effect> {
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, e)| *e)
}

/// The option names, sorted (the `features` list).
pub fn known() -> Vec<&'static str> {
    let mut v: Vec<&str> = TABLE.iter().map(|(n, _)| *n).collect();
    v.sort_unstable();
    v
}

#[derive(Debug, Clone, PartialEq)]
pub struct MountOptions {
    pub flags: MsFlags,
    /// Flags explicitly cleared (rw, suid, …), so remounts don't re-add them.
    pub cleared: MsFlags,
    pub propagation: Vec<MsFlags>,
    /// Options not in the table: filesystem data (refused on bind mounts).
    pub data: Vec<String>,
    pub tmpcopyup: bool,
    /// Recursive attributes to set and clear (mount_setattr AT_RECURSIVE).
    pub rec_set: u64,
    pub rec_clear: u64,
    /// idmap (false) or ridmap (true) was asked for.
    pub idmap: Option<bool>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            data: Vec::new(),
            tmpcopyup: false,
            rec_set: 0,
            rec_clear: 0,
            idmap: None,
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
    pub fn has_recursive_attrs(&self) -> bool {
        self.rec_set != 0 || self.rec_clear != 0
    }
}

pub fn propagation(name: &str) -> Option<MsFlags> {
    match lookup(name)? {
        Propagation(p) => Some(MsFlags::from_bits_retain(p)),
        _ => None,
    }
}

/// Applies the options in order; later ones win over earlier ones.
pub fn parse(options: &[String]) -> MountOptions {
    let mut o = MountOptions::default();
    for opt in options {
        match lookup(opt) {
            Some(Flag { set, clear }) => {
                let (set, clear) = (
                    MsFlags::from_bits_retain(set),
                    MsFlags::from_bits_retain(clear),
                );
                o.flags = (o.flags | set) & !clear;
                o.cleared = (o.cleared | clear) & !set;
            }
            Some(Recursive { set, clear }) => {
                o.rec_set = (o.rec_set & !clear) | set;
                o.rec_clear = (o.rec_clear & !set) | clear;
            }
            Some(Propagation(p)) => o.propagation.push(MsFlags::from_bits_retain(p)),
            Some(TmpCopyUp) => o.tmpcopyup = true,
            Some(IdMap { recursive }) => o.idmap = Some(recursive),
            None => o.data.push(opt.clone()),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn table() {
        let o = p(&[
            "rbind",
            "ro",
            "nosuid",
            "rslave",
            "mode=755",
            "size=1k",
            "rw",
            "tmpcopyup",
        ]);
        assert!(o
            .flags
            .contains(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_NOSUID));
        assert!(!o.flags.contains(MsFlags::MS_RDONLY), "rw after ro wins");
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        assert_eq!(o.data, vec!["mode=755", "size=1k"]);
        assert!(o.tmpcopyup);
        assert!(propagation("bogus").is_none());
        assert!(propagation("ro").is_none());
    }

    #[test]
    fn recursive_attributes() {
        let o = p(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(o.rec_set, attr::RDONLY | attr::NOSUID | attr::NOATIME);
        assert_eq!(o.rec_clear, attr::ATIME_MASK);
        assert!(o.data.is_empty());
        // A later option undoes an earlier one.
        let o = p(&["rro", "rrw"]);
        assert_eq!((o.rec_set, o.rec_clear), (0, attr::RDONLY));
        let o = p(&["rstrictatime"]);
        assert_eq!(o.rec_set & attr::ATIME_MASK, attr::STRICTATIME);
        assert_eq!(o.rec_clear, attr::ATIME_MASK);
        assert_eq!(p(&["ridmap"]).idmap, Some(true));
        assert_eq!(p(&["idmap"]).idmap, Some(false));
    }

    #[test]
    fn names_are_unique() {
        let k = known();
        let mut d = k.clone();
        d.dedup();
        assert_eq!(k, d);
        for n in k {
            assert!(p(&[n]).data.is_empty(), "{n} parsed as data");
        }
    }
}
