//! Files between an agent and a browsing session: the session's downloads named by `paths`
//! (uploads, drops), and answers kept as files (`filename`).

use super::*;

/// The files that `paths` name, copied into `dir` for the browser to read: this browsing
/// session's downloads (by name, or a path ending in one). Also the notes of downloads kept on
/// the way.
pub(super) async fn session_files(
    session: &BrowsingContext,
    object: &keel_objects::Object,
    dir: &std::path::Path,
    named: &[String],
) -> Result<(Vec<std::path::PathBuf>, String), String> {
    let notes = keep_downloads(session, object).await.concat();
    let mut files = Vec::new();
    for path in named {
        let name = std::path::Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let content = downloads::content(object, name).await?;
        let Some(content) = content.filter(|_| !name.is_empty()) else {
            return Err(format!(
                "{path:?} is not a download of this browsing session, and keel cannot read files on your machine: send the file's content with `files` ([{{\"name\": \"report.pdf\", \"base64\": \"…\"}}], or `text` for text), or name one of this session's downloads (browser_downloads lists them)"
            ));
        };
        let file = dir.join(name);
        std::fs::write(&file, content).map_err(|e| format!("cannot store {name}: {e}"))?;
        files.push(file);
    }
    Ok((files, notes))
}

/// Like [`save_output`], for output the browser gave in base64.
pub(super) async fn save_base64(
    object: &keel_objects::Object,
    file_name: &str,
    tool: &str,
    data: &str,
) -> Result<String, String> {
    use base64::Engine as _;
    let content = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| format!("the browser's {tool} output is not base64: {e}"))?;
    save_output(object, file_name, tool, content).await
}

/// Keeps a tool's output in the session as the file `file_name`; what the result says instead.
pub(super) async fn save_output(
    object: &keel_objects::Object,
    file_name: &str,
    tool: &str,
    content: Vec<u8>,
) -> Result<String, String> {
    let (name, bytes) =
        downloads::keep_bytes(object, file_name, &format!("{tool} output"), content)
            .await
            .map_err(|e| format!("the output of {tool} {e}"))?;
    Ok(format!(
        "Saved as {name:?} ({bytes} bytes) in this browsing session: browser_downloads with name {name:?} hands it over.\n"
    ))
}
