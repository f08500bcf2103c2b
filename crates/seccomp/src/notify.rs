//! Hand the seccomp user-notification listener fd to a seccomp agent, in the
//! same wire format as runc (`sendContainerProcessState`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::Error;

/// Build runc's `specs.ContainerProcessState` JSON:
/// `{"ociVersion", "fds": ["seccompFd"], "pid", "metadata"?, "state"}`.
///
/// `pid` and `ociVersion` are taken from the container state.
pub fn container_process_state(state: &serde_json::Value, metadata: &str) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    obj.insert(
        "ociVersion".into(),
        state
            .get("ociVersion")
            .cloned()
            .unwrap_or_else(|| "1.0.2".into()),
    );
    obj.insert("fds".into(), serde_json::json!(["seccompFd"]));
    obj.insert(
        "pid".into(),
        state.get("pid").cloned().unwrap_or_else(|| 0.into()),
    );
    if !metadata.is_empty() {
        obj.insert("metadata".into(), metadata.into());
    }
    obj.insert("state".into(), state.clone());
    serde_json::Value::Object(obj)
}

/// Connect to the agent's unix stream socket at `listener_path` and send the
/// `ContainerProcessState` JSON (see [`container_process_state`]) in one
/// message carrying `fd` as `SCM_RIGHTS`, like runc does.
///
/// `state` is the OCI container state (`{"ociVersion","id","status","pid",
/// "bundle","annotations"}`); `metadata` is `linux.seccomp.listenerMetadata`.
pub fn send_listener(
    listener_path: &Path,
    fd: BorrowedFd<'_>,
    state: &serde_json::Value,
    metadata: &str,
) -> Result<(), Error> {
    let err = |source| Error::SendListener {
        path: listener_path.to_path_buf(),
        source,
    };
    let msg = serde_json::to_vec(&container_process_state(state, metadata))
        .map_err(|e| err(io::Error::other(e)))?;
    let sock = UnixStream::connect(listener_path).map_err(err)?;
    send_with_fd(&sock, &msg, fd.as_raw_fd()).map_err(err)
}

/// `sendmsg` of `data` with one fd attached as `SCM_RIGHTS`.
pub(crate) fn send_with_fd(sock: &UnixStream, data: &[u8], fd: libc::c_int) -> io::Result<()> {
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    // u64 storage keeps the control buffer aligned for cmsghdr.
    let mut cbuf = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer is large enough for one int (CMSG_SPACE).
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return Err(io::Error::other("no room for control message"));
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
        std::ptr::copy_nonoverlapping(
            &fd as *const libc::c_int as *const u8,
            libc::CMSG_DATA(cmsg),
            std::mem::size_of::<libc::c_int>(),
        );
    }
    loop {
        // SAFETY: msg and everything it points to are valid for the call.
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n as usize != data.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short write of container process state",
            ));
        }
        return Ok(());
    }
}
