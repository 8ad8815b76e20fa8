//! Wayland: the desktop portal's Screenshot interface (`org.freedesktop.portal.Screenshot`,
//! through `ashpd`), asked non-interactively. The portal writes the picture to a file and
//! answers with its URI; the bytes are read back from there.

use super::CaptureError;

/// The whole screen as the portal saved it (the bytes of its file).
pub(super) fn screenshot() -> Result<Vec<u8>, CaptureError> {
    // The portal speaks D-Bus asynchronously; a runtime of its own on a thread of its own
    // keeps this callable from anywhere, from inside another runtime included.
    std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                CaptureError::Failed(format!("could not start the portal's runtime ({e})"))
            })?;
        rt.block_on(ask())
    })
    .join()
    .unwrap_or_else(|_| Err(CaptureError::Failed("the portal call panicked".into())))
}

async fn ask() -> Result<Vec<u8>, CaptureError> {
    use ashpd::desktop::screenshot::Screenshot;
    let request = Screenshot::request()
        .interactive(false)
        .modal(false)
        .send()
        .await
        .map_err(unavailable)?;
    let response = request.response().map_err(|e| match e {
        ashpd::Error::Response(r) => CaptureError::Portal(format!(
            "the request was {r} (allow screenshots for this program in the desktop's privacy settings)"
        )),
        other => CaptureError::Portal(other.to_string()),
    })?;
    let uri = response.uri().as_str();
    let path = file_path(uri)
        .ok_or_else(|| CaptureError::Portal(format!("it answered with {uri}, not a local file")))?;
    std::fs::read(&path).map_err(|e| {
        CaptureError::Portal(format!(
            "its file {} could not be read ({e})",
            path.display()
        ))
    })
}

/// The local path of a `file://` URI (percent-decoded), or `None` for any other URI.
fn file_path(uri: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let rest = uri.strip_prefix("file://")?;
    // `file:///path` or `file://localhost/path`.
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return None;
    }
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    Some(std::ffi::OsString::from_vec(bytes).into())
}

fn unavailable(e: ashpd::Error) -> CaptureError {
    CaptureError::Unsupported(format!(
        "this is a Wayland session and the desktop portal's Screenshot interface did not answer ({e}); install and start xdg-desktop-portal with a backend for this desktop (xdg-desktop-portal-gnome, -kde or -wlr)"
    ))
}

#[cfg(test)]
mod tests {
    use super::file_path;

    #[test]
    fn file_uris_become_paths_and_others_do_not() {
        assert_eq!(
            file_path("file:///tmp/Screenshot%20from%20x.png").unwrap(),
            std::path::PathBuf::from("/tmp/Screenshot from x.png")
        );
        assert_eq!(
            file_path("file://localhost/a.png").unwrap(),
            std::path::PathBuf::from("/a.png")
        );
        assert!(file_path("https://example.com/a.png").is_none());
        assert!(file_path("file://host/a.png").is_none());
    }
}
