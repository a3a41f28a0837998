//! Downloads kept in the browsing session's object. Chromium saves a page's download in the
//! session's scratch directory on this machine, which an agent elsewhere cannot read and which
//! goes away when the session sleeps; so each finished download is copied into the session's
//! object, where `browser_downloads` lists it and hands it over, across sleeps and restarts.

use std::path::Path;

use base64::Engine;
use keel_objects::{ListOptions, Object, Value};
use rmcp::model::{ContentBlock, ResourceContents};
use serde_json::json;

/// Key prefix of a download's description (`{url, bytes}`); its content is under `DATA`.
const ABOUT: &str = "_keel_download/";
/// Key prefix of a download's content.
const DATA: &str = "_keel_download_data/";

/// Copies the finished download at `path` (named `file_name` by the page, from `url`) into
/// `object` under a name of its own there (`rules (2).txt` when `rules.txt` is taken). Returns that
/// name and the size in bytes, or what went wrong.
pub(crate) async fn keep(
    object: &Object,
    file_name: &str,
    url: &str,
    path: &Path,
    max_bytes: u64,
) -> Result<(String, usize), String> {
    let on_disk = tokio::fs::metadata(path)
        .await
        .map_err(|e| format!("could not be read ({e})"))?
        .len();
    // Checked before reading: a 250 MB file is never in memory.
    let kept = if on_disk > max_bytes {
        Err(format!(
            "is too large to keep ({on_disk} bytes; at most {max_bytes}, browser.max_download_bytes)"
        ))
    } else {
        match tokio::fs::read(path).await {
            Ok(content) => keep_bytes(object, file_name, url, content).await,
            Err(e) => Err(format!("could not be read ({e})")),
        }
    };
    // Kept or not, it leaves the server's disk now: what could not be kept is out of the
    // agent's reach anyway.
    let _ = tokio::fs::remove_file(path).await;
    kept
}

/// Keeps `content` in `object` as a file named `file_name` (or a free name like it), from
/// `source`; its name there and size.
pub(crate) async fn keep_bytes(
    object: &Object,
    file_name: &str,
    source: &str,
    content: Vec<u8>,
) -> Result<(String, usize), String> {
    let url = source;
    let taken: Vec<String> = list(object)
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let name = free_name(file_name, &taken);
    let size = content.len();
    object
        .storage()
        .put_many(vec![
            (format!("{DATA}{name}"), Value::Bytes(content)),
            (
                format!("{ABOUT}{name}"),
                Value::Json(json!({"url": url, "bytes": size})),
            ),
        ])
        .await
        .map_err(|e| format!("could not be kept in the session ({e})"))?;
    Ok((name, size))
}

/// The downloads kept in `object`: name and description (`{url, bytes}`), by name.
async fn list(object: &Object) -> Result<Vec<(String, serde_json::Value)>, String> {
    let entries = object
        .storage()
        .list(ListOptions {
            prefix: Some(ABOUT.to_string()),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(entries
        .into_iter()
        .filter_map(|(key, value)| match value {
            Value::Json(about) => Some((key[ABOUT.len()..].to_string(), about)),
            Value::Bytes(_) => None,
        })
        .collect())
}

/// The keys of the downloads kept in `object` (descriptions and contents).
pub(crate) async fn keys(object: &Object) -> Result<Vec<String>, String> {
    Ok(list(object)
        .await?
        .into_iter()
        .flat_map(|(name, _)| [format!("{ABOUT}{name}"), format!("{DATA}{name}")])
        .collect())
}

/// The content of the download `name` kept in `object` (`None`: there is none of that name).
pub(crate) async fn content(object: &Object, name: &str) -> Result<Option<Vec<u8>>, String> {
    match object.storage().get(format!("{DATA}{name}")).await {
        Ok(Some(Value::Bytes(content))) => Ok(Some(content)),
        Ok(_) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// What `browser_downloads` answers: the list, or with `name` the file as an embedded resource.
pub(crate) async fn tool(object: &Object, name: Option<&str>) -> Result<Vec<ContentBlock>, String> {
    let kept = list(object).await?;
    let Some(name) = name else {
        if kept.is_empty() {
            return Ok(vec![ContentBlock::text(
                "No downloads in this browsing session yet.",
            )]);
        }
        let mut out = String::from("Downloads of this browsing session:\n");
        for (name, about) in &kept {
            out.push_str(&format!(
                "- {name} ({} bytes) from {}\n",
                about["bytes"],
                about["url"].as_str().unwrap_or("?")
            ));
        }
        out.push_str("Pass `name` to get one.\n");
        return Ok(vec![ContentBlock::text(out)]);
    };
    let Some((_, about)) = kept.iter().find(|(kept, _)| kept == name) else {
        let names: Vec<&str> = kept.iter().map(|(n, _)| n.as_str()).collect();
        return Err(format!(
            "no download named {name:?} in this browsing session; there are: {names:?}"
        ));
    };
    let content = match object.storage().get(format!("{DATA}{name}")).await {
        Ok(Some(Value::Bytes(content))) => content,
        Ok(_) => return Err(format!("the content of download {name:?} is missing")),
        Err(e) => return Err(e.to_string()),
    };
    let uri = format!("keel://downloads/{name}");
    let mime = mime_type(name);
    let resource = match String::from_utf8(content) {
        // Text is handed over as text (readable in the result); anything else as base64.
        Ok(text) if !text.contains('\0') => ResourceContents::text(text, uri).with_mime_type(mime),
        Ok(text) => binary(text.into_bytes(), uri, mime),
        Err(not_text) => binary(not_text.into_bytes(), uri, mime),
    };
    Ok(vec![
        ContentBlock::resource(resource),
        ContentBlock::text(format!(
            "{name}: {} bytes, downloaded from {}",
            about["bytes"],
            about["url"].as_str().unwrap_or("?")
        )),
    ])
}

/// Bytes as a base64 blob resource.
fn binary(content: Vec<u8>, uri: String, mime: &str) -> ResourceContents {
    ResourceContents::blob(
        base64::engine::general_purpose::STANDARD.encode(content),
        uri,
    )
    .with_mime_type(mime)
}

/// `file_name`, or `stem (2).ext`, `stem (3).ext`, … if it is among `taken`.
fn free_name(file_name: &str, taken: &[String]) -> String {
    // Only the last path component, and never an empty name.
    let base = file_name
        .rsplit(['/', '\\'])
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("download");
    if !taken.iter().any(|t| t == base) {
        return base.to_string();
    }
    let (stem, ext) = match base.rfind('.') {
        Some(dot) if dot > 0 => (&base[..dot], &base[dot..]),
        _ => (base, ""),
    };
    (2..)
        .map(|n| format!("{stem} ({n}){ext}"))
        .find(|candidate| !taken.iter().any(|t| t == candidate))
        .unwrap_or_else(|| base.to_string())
}

/// A MIME type from the file's extension (what a client shows or opens it as).
fn mime_type(name: &str) -> &'static str {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "txt" | "log" | "md" => "text/plain",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_name_gets_a_number_and_a_path_is_cut_to_its_last_part() {
        let taken = vec!["rules.txt".to_string(), "rules (2).txt".to_string()];
        assert_eq!(free_name("rules.txt", &taken), "rules (3).txt");
        assert_eq!(free_name("other.txt", &taken), "other.txt");
        assert_eq!(free_name("../../etc/passwd", &taken), "passwd");
        assert_eq!(free_name("", &taken), "download");
        assert_eq!(free_name("README", &["README".into()]), "README (2)");
    }
}
