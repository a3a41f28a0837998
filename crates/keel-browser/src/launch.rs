//! Finding and starting Chromium with `--remote-debugging-pipe`. Nothing is ever downloaded: the
//! browser is Debian's `chromium` package (or whatever `chrome_path` names).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::net::unix::pipe;

use crate::cdp::Connection;
use crate::error::BrowserError;

/// Where keel looks for Chromium when no path is configured, in order.
const CANDIDATES: [&str; 4] = [
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
];

/// The Chromium binary: `configured` if given (it must exist), else `chromium` on `PATH`, else the
/// usual install locations; a message that names the package when there is none.
pub fn find_chromium(configured: Option<&Path>) -> Result<PathBuf, BrowserError> {
    if let Some(path) = configured {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(BrowserError::NotFound(format!(
                "Chromium not found at {}: install the `chromium` package or set KEEL_CHROME to the browser's path",
                path.display()
            )))
        };
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            for name in ["chromium", "chromium-browser"] {
                let candidate = dir.join(name);
                if candidate.is_file() {
                    return Ok(candidate);
                }
            }
        }
    }
    CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            BrowserError::NotFound(
                "Chromium not found (looked for `chromium` on PATH and in /usr/bin): install the `chromium` package (apt-get install chromium) or set KEEL_CHROME to the browser's path".into(),
            )
        })
}

/// A running browser process and the CDP connection to it. The process is killed when this is dropped.
pub struct ChromeProcess {
    /// The CDP connection over the pipe.
    pub connection: Connection,
    child: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl ChromeProcess {
    /// Starts `binary` headless with a fresh profile; every request of every page goes through the
    /// proxy at `proxy` (the URL policy), loopback included.
    pub fn start(binary: &Path, proxy: Option<std::net::SocketAddr>) -> Result<Self, BrowserError> {
        let profile = tempfile::Builder::new()
            .prefix("keel-chromium-")
            .tempdir()
            .map_err(|e| BrowserError::Launch(format!("cannot create a profile directory: {e}")))?;
        let (to_browser_read, to_browser_write) = pipe_pair()?;
        let (from_browser_read, from_browser_write) = pipe_pair()?;
        let mut command = tokio::process::Command::new(binary);
        command
            .arg("--headless")
            .arg("--remote-debugging-pipe")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args([
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-background-timer-throttling",
                "--disable-backgrounding-occluded-windows",
                "--disable-renderer-backgrounding",
                "--disable-breakpad",
                "--disable-component-update",
                "--disable-default-apps",
                "--disable-extensions",
                "--disable-sync",
                // A page's window.open outside a click (a script, browser_evaluate) is a tab the
                // agent should see, as in Playwright, not a popup silently blocked.
                "--disable-popup-blocking",
                // BackForwardCache, ProactivelySwapBrowsingInstance and RenderDocument each make a
                // same-site navigation build a new document host (often a new renderer process):
                // measured here, ~30 ms of every navigation. The WebUI omnibox popups are renderers
                // of their own for every window (a browsing session's too) that follow each
                // navigation: measured here, a quarter of the CPU the browser used while an agent
                // worked, on a machine where that CPU is what the page needed. An agent's tab needs
                // none of them.
                "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,BackForwardCache,ProactivelySwapBrowsingInstance,RenderDocument,WebUIOmniboxPopup,WebUIOmniboxFullPopup,WebUIOmniboxAimPopup,OnDeviceModelService,OptimizationGuideOnDeviceModel",
                "--metrics-recording-only",
                "--mute-audio",
                "--hide-scrollbars",
                "--password-store=basic",
                "--use-mock-keychain",
                "--window-size=1280,800",
                // The headless screen (800x600 by default): tabs open full screen on it (see
                // `BrowsingContext::open_tab`), so this is the pages' viewport.
                "--screen-info={1280x800}",
                // WebRTC sends UDP (STUN, TURN, connection checks with page-chosen bytes) straight
                // past the proxy, to any address a page names: only proxied traffic is allowed,
                // and the proxy applies the URL policy.
                "--webrtc-ip-handling-policy=disable_non_proxied_udp",
            ]);
        if let Some(proxy) = proxy {
            command
                .arg(format!("--proxy-server=http://{proxy}"))
                // By default Chromium sends loopback straight out; `<-loopback>` sends it through
                // the proxy too, so the policy sees it.
                .arg("--proxy-bypass-list=<-loopback>");
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            // Chromium's sandbox refuses to run as root.
            command.arg("--no-sandbox");
        }
        command.arg("about:blank");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let child_read = to_browser_read.as_raw_fd();
        let child_write = from_browser_write.as_raw_fd();
        // SAFETY: the closure runs in the child between fork and exec and only calls fcntl, dup2
        // and prctl, which are async-signal-safe. PR_SET_PDEATHSIG makes the kernel kill Chromium
        // if keel dies without cleaning up (kill -9), so no browser outlives its server. It moves the pipe ends out of the way first (to fds
        // >= 10) so that placing them at 3 and 4 cannot overwrite one with the other; dup2 clears
        // close-on-exec on the copies, so Chromium inherits exactly fds 3 (commands) and 4 (replies).
        unsafe {
            command.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                let read = libc::fcntl(child_read, libc::F_DUPFD_CLOEXEC, 10);
                let write = libc::fcntl(child_write, libc::F_DUPFD_CLOEXEC, 10);
                if read < 0 || write < 0 || libc::dup2(read, 3) < 0 || libc::dup2(write, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| BrowserError::Launch(format!("cannot start {}: {e}", binary.display())))?;
        // The child has its copies; the parent's would keep the pipes open after the browser exits.
        drop(to_browser_read);
        drop(from_browser_write);
        let writer = pipe::Sender::from_owned_fd(to_browser_write)
            .map_err(|e| BrowserError::Launch(format!("pipe to the browser: {e}")))?;
        let reader = pipe::Receiver::from_owned_fd(from_browser_read)
            .map_err(|e| BrowserError::Launch(format!("pipe from the browser: {e}")))?;
        Ok(Self {
            connection: Connection::new(writer, reader),
            child,
            _profile: profile,
        })
    }

    /// The browser's process ID.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the browser.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// A pipe as (read end, write end), both close-on-exec.
fn pipe_pair() -> Result<(OwnedFd, OwnedFd), BrowserError> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(BrowserError::Launch(format!(
            "cannot create a pipe: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: pipe2 succeeded, so both are open descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
