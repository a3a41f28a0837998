//! Browsing sessions that sleep in their objects: an idle session's state (cookies, localStorage,
//! its page) and the downloads no result has reported yet go into its object, then its browser
//! context is closed; the next call restores it (`BrowserPack::session`).

use super::*;

/// Saves a session's state in its object; failures are logged (the session keeps working).
pub(super) async fn save_state(
    host: &ObjectHost,
    objects: &Mutex<HashMap<String, ObjectKey>>,
    key: &str,
    context: &BrowsingContext,
) -> bool {
    let Some(object_key) = objects
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(key)
        .cloned()
    else {
        return false;
    };
    let state = match context.export_state().await {
        Ok(state) => state,
        Err(error) => {
            tracing::warn!(%error, key, "a browsing session's state could not be read");
            return false;
        }
    };
    let saved = async {
        let object = host.get(&object_key).await?;
        // Downloads no call has reported yet: the scratch directory goes with the context.
        keep_downloads(context, &object).await;
        object.storage().put(STATE_KEY, state).await
    }
    .await;
    if let Err(error) = &saved {
        tracing::warn!(%error, key, "a browsing session's state could not be saved");
    }
    saved.is_ok()
}

/// Copies the downloads `context` finished since the last call into `object`; what each note
/// would say in a tool result.
pub(super) async fn keep_downloads(
    context: &BrowsingContext,
    object: &keel_objects::Object,
) -> Vec<String> {
    let mut lines = Vec::new();
    for note in context.take_downloads() {
        let Note::Downloaded {
            file_name,
            url,
            path,
        } = note
        else {
            continue;
        };
        lines.push(match downloads::keep(object, &file_name, &url, &path, context.max_download_bytes).await {
            Ok((name, bytes)) => format!(
                "- Downloaded {name} ({bytes} bytes) from {url}: get it with browser_downloads (name {name:?}).\n"
            ),
            Err(problem) => {
                tracing::warn!(file_name, problem, "a download could not be kept");
                format!("- Downloaded {file_name} from {url}, but it {problem}; it was discarded.\n")
            }
        });
    }
    lines
}

/// Saves an idle session in its object and closes its browser context (kept open if the save
/// failed, so nothing is lost).
pub(super) async fn put_to_sleep(
    pool: &BrowserPool,
    host: &ObjectHost,
    objects: &Mutex<HashMap<String, ObjectKey>>,
    key: &str,
    context: &BrowsingContext,
) {
    if save_state(host, objects, key, context).await {
        let _ = pool.close(key).await;
        objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        tracing::debug!(key, "browsing session put to sleep");
    }
}
