//! Finding process.args[0] the way runc (Go's exec.LookPath) does, with its error
//! words, which Docker maps to exit codes 127 and 126.

use anyhow::{bail, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why `p` cannot be executed, as Go's findExecutable says it: the stat
/// error ("stat P: no such file or directory"), else "is a directory" or
/// "permission denied".
fn executable(p: &Path) -> std::result::Result<(), String> {
    let meta = std::fs::metadata(p)
        .map_err(|e| crate::logging::go_style(&format!("stat {}: {e}", p.display())))?;
    if meta.is_dir() {
        return Err("is a directory".into());
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err("permission denied".into());
    }
    Ok(())
}

pub fn find(arg0: &str, env: &[String]) -> Result<PathBuf> {
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        if let Err(why) = executable(&p) {
            bail!("exec: {}: {why}", crate::logging::go_quote(arg0));
        }
        return Ok(p);
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let mut denied = false;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(arg0);
        match executable(&cand) {
            Ok(()) => return Ok(cand),
            Err(_) if cand.exists() => denied = true,
            Err(_) => {}
        }
    }
    if denied {
        bail!(
            "exec: {}: permission denied",
            crate::logging::go_quote(arg0)
        );
    }
    bail!(
        "exec: {}: executable file not found in $PATH",
        crate::logging::go_quote(arg0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn runc_words() {
        let env = vec!["PATH=/bin:/usr/bin".to_string()];
        assert!(find("sh", &env).is_ok());
        let e = find("no-such-tool-xyz", &env).unwrap_err().to_string();
        assert!(e.contains("executable file not found in $PATH"), "{e}");
        let e = find("/no/such", &env).unwrap_err().to_string();
        assert_eq!(
            e,
            "exec: \"/no/such\": stat /no/such: no such file or directory"
        );
        let e = find("/tmp", &env).unwrap_err().to_string();
        assert_eq!(e, "exec: \"/tmp\": is a directory");
        let f = std::env::temp_dir().join(format!("tong-noexec-{}", std::process::id()));
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = find(f.to_str().unwrap(), &env).unwrap_err().to_string();
        std::fs::remove_file(&f).unwrap();
        assert_eq!(e, format!("exec: \"{}\": permission denied", f.display()));
    }
}
