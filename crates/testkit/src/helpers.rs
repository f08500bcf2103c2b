//! Tiny static programs for a busybox rootfs, for what busybox cannot do:
//! `sdnotify MSG` sends MSG as one datagram to $NOTIFY_SOCKET (an '@' name
//! is abstract), as sd_notify(3) does. Built with the C compiler tong's own
//! static build needs anyway (cc with glibc's libc.a).

use std::path::{Path, PathBuf};
use std::process::Command;

const SDNOTIFY_C: &str = r#"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || argc != 2) {
        fprintf(stderr, "usage: NOTIFY_SOCKET=PATH sdnotify MESSAGE\n");
        return 2;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n >= sizeof a.sun_path) return 2;
    memcpy(a.sun_path, path, n);
    if (a.sun_path[0] == '@') a.sun_path[0] = 0;
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0 || sendto(s, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&a,
                        offsetof(struct sockaddr_un, sun_path) + n) < 0) {
        perror("sdnotify");
        return 1;
    }
    return 0;
}
"#;

/// Compiles the `sdnotify` helper statically into `dir`; Err says why not.
pub fn sdnotify(dir: &Path) -> Result<PathBuf, String> {
    build(dir, "sdnotify", SDNOTIFY_C)
}

fn build(dir: &Path, name: &str, src: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let c = dir.join(format!("{name}.c"));
    let out = dir.join(name);
    std::fs::write(&c, src).map_err(|e| e.to_string())?;
    let o = Command::new("cc")
        .args(["-static", "-Os", "-o"])
        .arg(&out)
        .arg(&c)
        .output()
        .map_err(|e| format!("run cc: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "cc -static failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(out)
}
