//! `keel demo booking`: a small court-booking web site with no API for agents, the showcase of the
//! browser tools. Parks with courts 1–6 and hourly slots, a form with a name field, a confirmation
//! page; bookings are kept by the server (`GET /api/bookings` shows them, for tests).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::json;

const PARKS: [(&str, &str); 2] = [("riverside", "Riverside Park"), ("hilltop", "Hilltop Park")];
const COURTS: std::ops::RangeInclusive<u32> = 1..=6;
const HOURS: std::ops::RangeInclusive<u32> = 8..=21;

#[derive(Clone, serde::Serialize)]
struct Booking {
    id: u64,
    park: String,
    court: u32,
    hour: String,
    name: String,
}

#[derive(Default)]
struct Bookings {
    list: Vec<Booking>,
    /// (park, court, hour) already taken.
    taken: HashMap<(String, u32, u32), u64>,
}

type Shared = Arc<Mutex<Bookings>>;

/// The site's routes. Some slots start out taken, so a page has both kinds.
pub fn router() -> Router {
    let mut bookings = Bookings::default();
    for (park, court, hour) in [
        ("riverside", 1, 9),
        ("riverside", 3, 18),
        ("riverside", 5, 17),
        ("hilltop", 2, 10),
    ] {
        bookings.taken.insert((park.to_string(), court, hour), 0);
    }
    let state: Shared = Arc::new(Mutex::new(bookings));
    Router::new()
        .route("/", get(home))
        .route("/park/{park}", get(park))
        .route("/book", get(book_form).post(book))
        .route("/confirmation/{id}", get(confirmation))
        .route("/api/bookings", get(list))
        .route("/lab/{page}", get(lab))
        .with_state(state)
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} · CourtBook</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:4px 6px}}
.taken{{color:#999}} nav a{{margin-right:1em}}</style></head>
<body><nav><a href="/">All parks</a></nav><main><h1>{title}</h1>{body}</main>
<footer><p>CourtBook · tennis courts of the city</p></footer></body></html>"#
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn park_name(id: &str) -> Option<&'static str> {
    PARKS.iter().find(|(p, _)| *p == id).map(|(_, name)| *name)
}

async fn home() -> Html<String> {
    let links: String = PARKS
        .iter()
        .map(|(id, name)| format!(r#"<li><a href="/park/{id}">{name}</a></li>"#))
        .collect();
    page(
        "Book a tennis court",
        &format!("<p>Choose a park.</p><ul>{links}</ul>"),
    )
}

async fn park(State(state): State<Shared>, Path(park): Path<String>) -> Response {
    let Some(name) = park_name(&park) else {
        return (
            StatusCode::NOT_FOUND,
            page("No such park", "<p>Go back to the list of parks.</p>"),
        )
            .into_response();
    };
    let bookings = state.lock().unwrap_or_else(|p| p.into_inner());
    let mut table = String::from(
        r#"<table><caption>Today's slots</caption><thead><tr><th scope="col">Court</th>"#,
    );
    for hour in HOURS {
        table.push_str(&format!(r#"<th scope="col">{hour:02}:00</th>"#));
    }
    table.push_str("</tr></thead><tbody>");
    for court in COURTS {
        table.push_str(&format!(r#"<tr><th scope="row">Court {court}</th>"#));
        for hour in HOURS {
            if bookings.taken.contains_key(&(park.clone(), court, hour)) {
                table.push_str(r#"<td class="taken">Taken</td>"#);
            } else {
                table.push_str(&format!(
                    r#"<td><form method="get" action="/book"><input type="hidden" name="park" value="{park}"><input type="hidden" name="court" value="{court}"><input type="hidden" name="hour" value="{hour}"><button type="submit">Book</button></form></td>"#
                ));
            }
        }
        table.push_str("</tr>");
    }
    table.push_str("</tbody></table>");
    page(name, &table).into_response()
}

fn query(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn slot(fields: &HashMap<String, String>) -> Option<(String, &'static str, u32, u32)> {
    let park = fields.get("park")?;
    let name = park_name(park)?;
    let court: u32 = fields
        .get("court")?
        .parse()
        .ok()
        .filter(|c| COURTS.contains(c))?;
    let hour: u32 = fields
        .get("hour")?
        .parse()
        .ok()
        .filter(|h| HOURS.contains(h))?;
    Some((park.clone(), name, court, hour))
}

async fn book_form(uri: Uri) -> Response {
    let fields = query(&uri);
    let Some((park, name, court, hour)) = slot(&fields) else {
        return (
            StatusCode::BAD_REQUEST,
            page("Unknown slot", "<p>Pick a slot on a park's page.</p>"),
        )
            .into_response();
    };
    page(
        "Your booking",
        &format!(
            r#"<p>{name}, Court {court}, {hour:02}:00.</p>
<form method="post" action="/book">
<input type="hidden" name="park" value="{park}"><input type="hidden" name="court" value="{court}"><input type="hidden" name="hour" value="{hour}">
<p><label for="name">Your name</label> <input id="name" name="name" type="text" required></p>
<p><button type="submit">Confirm booking</button> <a href="/park/{park}">Cancel</a></p>
</form>"#
        ),
    )
    .into_response()
}

async fn book(State(state): State<Shared>, body: axum::body::Bytes) -> Response {
    let fields: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let Some((park, park_title, court, hour)) = slot(&fields) else {
        return (
            StatusCode::BAD_REQUEST,
            page("Unknown slot", "<p>Pick a slot on a park's page.</p>"),
        )
            .into_response();
    };
    let person = fields.get("name").map(|n| n.trim()).unwrap_or_default();
    if person.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            page("Name missing", "<p>Go back and type your name.</p>"),
        )
            .into_response();
    }
    let mut bookings = state.lock().unwrap_or_else(|p| p.into_inner());
    if bookings.taken.contains_key(&(park.clone(), court, hour)) {
        return (
            StatusCode::CONFLICT,
            page("Slot taken", &format!("<p>Court {court} at {hour:02}:00 in {park_title} was just booked by someone else.</p>")),
        )
            .into_response();
    }
    let id = bookings.list.len() as u64 + 1;
    bookings.taken.insert((park.clone(), court, hour), id);
    bookings.list.push(Booking {
        id,
        park,
        court,
        hour: format!("{hour:02}:00"),
        name: person.to_string(),
    });
    Redirect::to(&format!("/confirmation/{id}")).into_response()
}

async fn confirmation(State(state): State<Shared>, Path(id): Path<u64>) -> Response {
    let bookings = state.lock().unwrap_or_else(|p| p.into_inner());
    let Some(b) = bookings.list.iter().find(|b| b.id == id) else {
        return (StatusCode::NOT_FOUND, page("No such booking", "")).into_response();
    };
    let park = park_name(&b.park).unwrap_or_default();
    page(
        "Booking confirmed",
        &format!(
            "<p>Court {} at {} in {park} is booked for {}. Booking number {}.</p>",
            b.court,
            b.hour,
            escape(&b.name),
            b.id
        ),
    )
    .into_response()
}

async fn list(State(state): State<Shared>) -> Response {
    let bookings = state.lock().unwrap_or_else(|p| p.into_inner());
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({"bookings": bookings.list}).to_string(),
    )
        .into_response()
}

/// Small pages that try the browser tools' hard cases: dialogs, overlays, iframes, shadow DOM,
/// cookies, a huge DOM, a page that never stops running, alerts without end, endless redirects.
async fn lab(Path(name): Path<String>, uri: Uri, headers: axum::http::HeaderMap) -> Response {
    let body = match name.as_str() {
        "dialog" => r#"<button onclick="alert('Court 3 is yours')">Say hi</button>
<button onclick="document.getElementById('answer').textContent = confirm('Really cancel?') ? 'cancelled' : 'kept'">Cancel booking</button>
<p id="answer">undecided</p>"#.to_string(),
        // Asks "leave this page?" once its note was edited.
        "draft" => r#"<label>Note <textarea id="note" oninput="window.onbeforeunload = (e) => { e.preventDefault(); e.returnValue = ''; }"></textarea></label>
<a href="/">Back to the parks</a>"#.to_string(),
        // Changed as it loads: by a load listener (before keel's walk at load) and by a pageshow
        // listener, which runs after keel's.
        "onload" => r#"<p id="early">as parsed</p>
<script>
addEventListener("load", () => { document.getElementById("early").textContent = "changed by a load listener"; });
addEventListener("pageshow", () => {
  const b = document.createElement("button"); b.textContent = "Added at pageshow"; document.body.append(b);
});
</script>"#.to_string(),
        "overlay" => r#"<button onclick="document.getElementById('done').textContent='booked'">Book now</button><p id="done"></p>
<div id="cookie-banner" class="banner" style="position:fixed;inset:0;background:rgba(0,0,0,.6);color:white;padding:4em">We use cookies
<button onclick="document.getElementById('cookie-banner').remove()">Accept</button></div>"#.to_string(),
        "iframe" => r#"<p>Outside the frame</p><iframe title="Booking widget" src="/lab/widget" style="width:400px;height:200px;margin-top:300px"></iframe>"#.to_string(),
        // The widget from another site (localhost vs 127.0.0.1): an out-of-process iframe.
        "xiframe" => {
            let host = other_site(&headers, "127.0.0.1", "localhost");
            format!(r#"<p>Partner courts</p><iframe title="Partner widget" src="http://{}/lab/widget" style="width:400px;height:200px;margin-top:300px"></iframe>"#, escape(&host))
        }
        // Cross-site inside cross-site: 127.0.0.1 holds a localhost frame that holds a 127.0.0.1 one.
        "xxiframe" => {
            let host = other_site(&headers, "127.0.0.1", "localhost");
            format!(r#"<p>Partner network</p><iframe title="Partner site" src="http://{}/lab/xback" style="width:500px;height:300px;margin-top:200px"></iframe>"#, escape(&host))
        }
        "xback" => {
            let host = other_site(&headers, "localhost", "127.0.0.1");
            format!(r#"<p>Partner site</p><iframe title="Club widget" src="http://{}/lab/widget" style="width:400px;height:150px;margin-top:60px"></iframe>"#, escape(&host))
        }
        "widget" => r#"<button onclick="this.textContent='Reserved'">Reserve court 6</button>"#.to_string(),
        "shadow" => r#"<court-picker></court-picker><script>
customElements.define('court-picker', class extends HTMLElement { connectedCallback() {
  const root = this.attachShadow({mode: 'open'});
  root.innerHTML = '<button>Pick court 2</button><span></span>';
  root.querySelector('button').onclick = () => root.querySelector('span').textContent = 'picked 2';
}});</script>"#.to_string(),
        "cookie" => {
            let user = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                .find(|(k, _)| k == "user")
                .map(|(_, v)| v.into_owned());
            let cookie = headers
                .get(header::COOKIE)
                .and_then(|v| v.to_str().ok())
                .and_then(|c| c.split(';').find_map(|p| p.trim().strip_prefix("user=").map(str::to_string)));
            let shown = escape(&cookie.clone().unwrap_or_else(|| "nobody".into()));
            let mut response = page("Who am I", &format!("<p>Signed in as {shown}</p>")).into_response();
            if let Some(user) = user
                && let Ok(value) = format!("user={}; Path=/", user.replace([';', ' ', ','], "")).parse()
            {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            return response;
        }
        "big" => {
            // `?n=` links (1000 by default, at most 40000).
            let n: usize = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                .find(|(k, _)| k == "n")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(1000)
                .min(40_000);
            let mut rows = String::from("<ul>");
            for i in 0..n {
                rows.push_str(&format!("<li><a href=\"/lab/big#{i}\">Slot {i}</a></li>"));
            }
            rows.push_str("</ul>");
            rows
        }
        "article" => article(),
        "form" => r#"<form onsubmit="event.preventDefault(); document.getElementById('out').textContent = new URLSearchParams(new FormData(this)).toString()">
<p><label>Court <select name="court"><option value="1">Court 1</option><option value="3">Court 3</option></select></label></p>
<p><label>Name <input name="name"></label></p>
<p><label><input type="checkbox" name="lights"> Floodlights</label></p>
<p><button>Reserve</button></p></form>
<p id="out">not sent</p>
<p id="hover" onmouseover="this.textContent = 'hovered'">hover me</p>
<script>console.log('form ready')</script>"#.to_string(),
        // Dragging (HTML drag and drop, and a knob that follows the mouse), clicks at a point, the
        // wheel, console levels and a request to look into.
        "drag" => r#"<div id="card" draggable="true" style="position:absolute;left:20px;top:80px;width:120px;height:40px;background:#cde" ondragstart="event.dataTransfer.setData('text/plain', 'Court 2')">Court 2 card</div>
<div id="zone" style="position:absolute;left:300px;top:80px;width:200px;height:100px;border:1px solid #333" ondragover="event.preventDefault()" ondrop="event.preventDefault(); document.getElementById('dropped').textContent = 'dropped ' + event.dataTransfer.getData('text/plain')">Drop here</div>
<div id="knob" style="position:absolute;left:20px;top:220px;width:40px;height:40px;background:#888">knob</div>
<button id="spot" style="position:absolute;left:500px;top:300px;width:100px;height:40px">Spot</button>
<p style="position:absolute;left:20px;top:360px"><span id="dropped">nothing dropped</span> · <span id="moved">not moved</span> · <span id="clicked">not clicked</span> · <span id="wheel">no wheel</span></p>
<div style="height:3000px"></div>
<script>
let start = null, held = 0;
knob.addEventListener('mousedown', e => { start = [e.clientX, e.clientY]; held = 0; e.preventDefault(); });
document.addEventListener('mousemove', e => { if (start && (e.buttons & 1)) held++; });
document.addEventListener('mouseup', e => { if (start) { moved.textContent = 'moved ' + Math.round(e.clientX - start[0]) + ',' + Math.round(e.clientY - start[1]) + ', ' + held + ' moves with the button held'; start = null; } });
spot.addEventListener('click', e => clicked.textContent = 'clicked at ' + e.clientX + ',' + e.clientY + (e.shiftKey ? ' with shift' : '') + (e.ctrlKey ? ' with control' : ''));
document.addEventListener('wheel', e => wheel.textContent = 'wheel ' + e.deltaY);
console.debug('a debug note'); console.warn('careful'); console.error('broken');
fetch('/lab/widget?from=drag');
</script>"#.to_string(),
        // Any page in a frame (`?src=`): another port of the same host is another origin in the
        // same process.
        "frame" => {
            let src = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                .find(|(k, _)| k == "src")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            format!(r#"<p>Framed</p><iframe title="Framed page" src="{}" style="width:400px;height:200px"></iframe>"#, escape(&src))
        }
        // What a snapshot must get right about roles, names, states and what is hidden.
        "aria" => r##"<div role="button" tabindex="0" aria-pressed="true" onclick="this.textContent='Lights on'">Lights</div>
<span id="lbl">Court number</span><input aria-labelledby="lbl" value="4">
<input aria-label="Coach" placeholder="ignored">
<input placeholder="Promo code">
<label for="pw">Password</label><input id="pw" type="password" value="abc">
<textarea aria-label="Notes">Bring balls</textarea>
<select aria-label="Extras" multiple><option selected>Towels</option><option>Lockers</option></select>
<fieldset disabled><legend>Closed courts</legend><button>Court 9</button></fieldset>
<details><summary>More options</summary><button>Hidden option</button></details>
<div style="display:none"><button>Gone</button></div>
<div style="visibility:hidden"><button>Invisible</button><span style="visibility:visible"><a href="/">Still shown</a></span></div>
<div aria-hidden="true"><button>Muted</button></div>
<h3 aria-level="2">Level two</h3>
<img src="data:," alt="Court map"><img src="data:," alt="">
<div class="card" style="cursor:pointer" onclick="this.querySelector('b').textContent='chosen'"><b>Court 7</b> <span>indoor</span></div>
<ul><li><a href="#a">First</a></li></ul>
<input type="checkbox" id="bm" style="display:none" onchange="document.getElementById('bm-state').textContent = this.checked ? 'machine on' : 'machine off'"><label for="bm" style="cursor:pointer">Ball machine</label> <span id="bm-state">machine off</span>
<table><tr><td><a href="#n">News item</a></td><td>3 points</td></tr><tr><td>by ann</td><td>2 hours ago</td></tr></table>
<slot-host></slot-host>
<script>customElements.define('slot-host', class extends HTMLElement { connectedCallback() {
  this.attachShadow({mode: 'open'}).innerHTML = '<nav aria-label="Inner"><slot></slot><button>Shadow action</button></nav>';
}}); document.querySelector('slot-host').innerHTML = '<a href="#s">Slotted link</a>';</script>"##.to_string(),
        // An image that never comes (a tracker whose server hangs): the page never finishes loading.
        "slowimage" => r#"<p>Court map below</p><img alt="Court map" src="/lab/hang" width="200" height="100">
<button onclick="this.textContent='Booked'">Book court 2</button>
<button onclick="fetch('/lab/hang?from=click'); this.textContent='Asked'">Ask the club</button>
<a href="/lab/widget">The widget</a>"#.to_string(),
        // Search as you type: each input asks the server, which answers after 300 ms.
        "search" => r#"<label>Search courts <input id="q" oninput="fetch('/lab/courts?q=' + encodeURIComponent(this.value)).then(r => r.text()).then(t => document.getElementById('hits').textContent = t)"></label>
<p id="hits">no search yet</p>"#.to_string(),
        "courts" => {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let q = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                .find(|(k, _)| k == "q")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            return format!("Courts matching {q:?}: Court {q}").into_response();
        }
        // Answers with no page at all, and asks for a password.
        "nocontent" => return StatusCode::NO_CONTENT.into_response(),
        "members" => {
            return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"members\"")], "members only")
                .into_response();
        }
        // Never answers (until the browser gives up on it).
        "hang" => {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            return StatusCode::NO_CONTENT.into_response();
        }
        "clock" => r#"<p id="t">soon</p><script>setTimeout(() => document.getElementById("t").textContent = "later", 300)</script>"#.to_string(),
        "storage" => r#"<p>Favourite court: <output id="fav"></output></p>
<button onclick="localStorage.setItem('court', '4'); document.getElementById('fav').textContent = '4'">Remember court 4</button>
<script>document.getElementById('fav').textContent = localStorage.getItem('court') || 'none'</script>"#.to_string(),
        "upload" => r#"<label>Team photo <input type="file" id="photo" multiple onchange="
  Promise.all(Array.from(this.files).map(f => f.text().then(t => f.name + ' (' + t.length + ' chars)'))).then(n => document.getElementById('got').textContent = n.join(', '))"></label>
<p>Received: <span id="got">nothing</span></p>"#.to_string(),
        // A popup aimed at the cloud metadata address: the URL policy must hold for new tabs too.
        "popleak" => r#"<button onclick="window.open('http://169.254.169.254/latest/user-data', '_blank')">Open the metadata</button>"#.to_string(),
        "popup" => r#"<button onclick="window.open('/lab/widget', '_blank')">Open the widget</button>
<a href="/lab/file" download>Download the rules</a>"#.to_string(),
        "file" => {
            return (
                [(header::CONTENT_TYPE, "text/plain"), (header::CONTENT_DISPOSITION, "attachment; filename=\"rules.txt\"")],
                "Rule 1: the ball must land in the court.\n",
            )
                .into_response();
        }
        // A download that never ends (no length, zeros for ever): the browser must cut it off.
        "endless" => {
            let chunk = axum::body::Bytes::from(vec![0u8; 64 << 10]);
            let zeros = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            return (
                [(header::CONTENT_TYPE, "application/octet-stream"), (header::CONTENT_DISPOSITION, "attachment; filename=\"endless.bin\"")],
                axum::body::Body::from_stream(zeros),
            )
                .into_response();
        }
        "loop" => "<p>Spinning</p><script>while (true) {}</script>".to_string(),
        // Alerts without end: one while the page loads, then another for each one answered.
        "storm" => "<p>Storm</p><script>let n = 0; while (true) alert(`Alert ${++n}`);</script>".to_string(),
        // Asks for addresses the URL policy must refuse (the proxy refuses before connecting).
        "leak" => r#"<p>Tracking you</p><img alt="pixel" src="http://10.255.255.1/track.png">
<script>fetch("http://169.254.169.254/latest/meta-data/").catch(() => {})</script>"#.to_string(),
        "redirect" => return Redirect::to("/lab/redirect").into_response(),
        _ => return (StatusCode::NOT_FOUND, page("No such lab page", "")).into_response(),
    };
    page(&format!("Lab: {name}"), &body).into_response()
}

/// A long article (headings, paragraphs with links, lists, a table): a larger page for the
/// snapshot-size benchmark.
fn article() -> String {
    let words = [
        "court", "serve", "volley", "baseline", "rally", "umpire", "net", "racket", "clay",
        "grass", "booking", "season",
    ];
    let mut body = String::from(
        r#"<p>A history of the city's public courts.</p><nav aria-label="Contents"><ol>"#,
    );
    for chapter in 1..=12 {
        body.push_str(&format!(
            r##"<li><a href="#c{chapter}">Chapter {chapter}</a></li>"##
        ));
    }
    body.push_str("</ol></nav>");
    for chapter in 1..=12 {
        body.push_str(&format!(
            r#"<section><h2 id="c{chapter}">Chapter {chapter}</h2>"#
        ));
        for paragraph in 0..6 {
            let text: Vec<&str> = (0..60)
                .map(|i| words[(chapter * 7 + paragraph * 3 + i) % words.len()])
                .collect();
            body.push_str(&format!(
                r#"<p>{} <a href="/lab/article?ref={chapter}-{paragraph}">see note {chapter}.{paragraph}</a> {}.</p>"#,
                text[..30].join(" "),
                text[30..].join(" ")
            ));
        }
        body.push_str("<ul>");
        for item in 0..5 {
            body.push_str(&format!(
                "<li>Rule {chapter}.{item}: the {} must stay behind the {}</li>",
                words[item],
                words[(item + chapter) % words.len()]
            ));
        }
        body.push_str("</ul><table><tr><th>Year</th><th>Courts</th><th>Players</th></tr>");
        for year in 0..4 {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                1990 + chapter * 2 + year,
                4 + year,
                120 + chapter * 10 + year
            ));
        }
        body.push_str("</table></section>");
    }
    body.push_str(r#"<form><label>Search the archive <input type="search" name="q"></label> <button>Search</button></form>"#);
    body
}

/// Serves the site on `listen` until the process ends; prints the address first.
pub async fn run(listen: std::net::SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("booking demo on http://{}", listener.local_addr()?);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router()).await?;
    Ok(())
}

/// This server's address as another site: the request's `Host` with `from` replaced by `to`
/// (127.0.0.1 and localhost are different sites, so a frame from the other runs in its own process).
fn other_site(headers: &axum::http::HeaderMap, from: &str, to: &str) -> String {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(from)
        .replace(from, to)
}
