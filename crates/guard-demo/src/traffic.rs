//! Seeded benign traffic for the demo API, and attack placement: a payload put into one
//! string-typed location of an otherwise benign request.

use serde_json::json;

use crate::har::{Req, Tag};
use crate::rng::Rng;

const FIRST: &[&str] = &[
    "Ann", "Bob", "Chloé", "Dmitri", "Émilie", "Fatima", "Giovanni", "Hana", "Ian", "Jürgen",
    "Kofi", "Léa", "María", "Noah", "Olivia", "Pål", "Quinn", "Renée", "Søren", "Tomás", "Uma",
    "Vera", "Wei", "Xavier", "Yusuf", "Zoë", "Siobhán", "José", "Ángel", "Ingrid",
];
const LAST: &[&str] = &[
    "O'Brien",
    "Smith",
    "Müller",
    "García",
    "D'Angelo",
    "Nguyen",
    "Johansson",
    "Kowalski",
    "Dubois",
    "Rossi",
    "Ivanova",
    "Tanaka",
    "Okafor",
    "Schmidt",
    "Fernández",
    "O'Neil",
    "Lee",
    "Brown",
    "Van der Berg",
    "St. John",
    "Haddad",
    "Novák",
    "Þórsson",
    "Jones-Parker",
];
const WORDS: &[&str] = &[
    "great",
    "shoes",
    "fits",
    "perfectly",
    "color",
    "blue",
    "delivery",
    "fast",
    "quality",
    "price",
    "cheap",
    "expensive",
    "size",
    "small",
    "large",
    "recommend",
    "friend",
    "gift",
    "winter",
    "summer",
    "jacket",
    "comfortable",
    "battery",
    "lasts",
    "days",
    "screen",
    "bright",
    "sound",
    "weekend",
    "return",
    "order",
    "arrived",
    "box",
    "damaged",
    "support",
    "helpful",
    "replaced",
    "again",
    "kitchen",
    "knife",
    "sharp",
    "coffee",
    "beans",
    "roast",
    "taste",
    "bitter",
    "sweet",
    "garden",
    "chair",
    "table",
    "wood",
    "metal",
    "cable",
    "charger",
    "phone",
    "laptop",
    "bag",
    "strap",
    "lens",
];
const CONNECT: &[&str] = &[
    "and", "but", "so", "because", "although", "the", "a", "it", "was", "is", "really", "very",
    "not", "too", "my", "for", "with", "after", "before", "than", "I", "we", "they", "this",
];
const FOREIGN: &[&str] = &[
    "sehr gut, danke schön",
    "muy bueno, lo recomiendo",
    "très bien, merci beaucoup",
    "очень хорошо, спасибо",
    "とても良いです",
    "非常好",
    "molto bello",
    "ótimo produto",
    "bardzo dobry",
    "çok güzel",
    "πολύ καλό",
];
const SEARCH: &[&str] = &[
    "red shoes",
    "running shoes size 42",
    "usb-c cable 2m",
    "coffee grinder",
    "men's jacket",
    "women's boots",
    "4k monitor 27\"",
    "c++ book",
    "garden chair (wood)",
    "iphone 15 case",
    "laptop bag 15.6",
    "kids' toys",
    "gift for mom",
    "tea & coffee",
    "50% off",
    "wireless mouse",
    "noise-cancelling headphones",
    "café table",
    "crème brûlée set",
    "bike light",
];
const TAGS: &[&str] = &[
    "gift", "sale", "new", "shoes", "kitchen", "garden", "tech", "kids", "outdoor", "home",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
];
const LANGS: &[&str] = &[
    "en-US,en;q=0.9",
    "de-DE,de;q=0.9,en;q=0.8",
    "fr-FR,fr;q=0.9",
    "es-ES,es;q=0.8,en;q=0.5",
    "ja,en;q=0.8",
];
const FILES: &[&str] = &[
    "report", "invoice", "manual", "photo", "summary", "notes", "contract", "slides",
];
const EXT: &[&str] = &["pdf", "png", "jpg", "txt", "docx", "csv"];
const DOMAINS: &[&str] = &[
    "example.com",
    "mail.example.org",
    "example.net",
    "posteo.de",
    "uni-example.edu",
];

/// The string-typed locations an attack payload is placed in.
pub const LOCATIONS: &[&str] = &[
    "query.q",
    "query.sort",
    "query.status",
    "path.files",
    "json.author.name",
    "json.author.email",
    "json.text",
    "json.tags[]",
    "form.name",
    "form.email",
    "form.subject",
    "form.message",
    "form.website",
    "header.user-agent",
    "header.referer",
    "header.x-client-version",
    "cookie.theme",
];

/// Free-text locations: where the learned profile admits most punctuation.
pub const FREE_TEXT: &[&str] = &[
    "query.q",
    "json.text",
    "form.message",
    "form.subject",
    "json.author.name",
    "form.name",
];

fn name(r: &mut Rng) -> String {
    format!("{} {}", r.pick(FIRST), r.pick(LAST))
}

fn email(r: &mut Rng) -> String {
    let f = r.pick(FIRST).to_lowercase();
    let f: String = f.chars().filter(char::is_ascii_alphabetic).collect();
    let sep = r.pick(&[".", "_", "", "+shop"]);
    format!("{f}{sep}{}@{}", r.range(1, 999), r.pick(DOMAINS))
}

/// A sentence as people type them in a comment box.
pub fn sentence(r: &mut Rng) -> String {
    let n = r.range(3, 14) as usize;
    let mut words: Vec<String> = Vec::new();
    for i in 0..n {
        let w = if i % 2 == 0 {
            r.pick(WORDS)
        } else {
            r.pick(CONNECT)
        };
        words.push(w.to_string());
    }
    let mut s = words.join(" ");
    if let Some(c) = s.get(..1) {
        s = format!("{}{}", c.to_uppercase(), s.get(1..).unwrap_or(""));
    }
    match r.below(14) {
        0 => s.push_str(&format!(" for ${}.{:02}", r.range(1, 300), r.range(0, 99))),
        1 => s.push_str(&format!(", about {}% cheaper", r.range(5, 70))),
        2 => s.push_str(" (size M)"),
        3 => s.push_str(" - I'd buy it again"),
        4 => s.push_str(&format!(" in {} days", r.range(1, 9))),
        5 => s.push_str(&format!(". {}", r.pick(FOREIGN))),
        6 => s.push_str(" & it's \"as described\""),
        7 => s.push_str(&format!(
            ", see https://{}/p/{}",
            r.pick(DOMAINS),
            r.range(1, 9999)
        )),
        8 => s.push_str(&format!(" #{}", r.pick(TAGS))),
        9 => s.push_str(&format!(" at {}:{:02}", r.range(7, 22), r.range(0, 59))),
        10 => s.push_str(": 5/5 stars"),
        11 => s.push_str(&format!(", mail me at {}", email(r))),
        _ => {}
    }
    s.push(r.pick(&['.', '.', '!', '?', '.']));
    s
}

fn text(r: &mut Rng) -> String {
    let n = r.range(1, 4);
    (0..n).map(|_| sentence(r)).collect::<Vec<_>>().join(" ")
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn path_enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A browser's user agent, with the version spread real traffic has.
fn agent(r: &mut Rng) -> String {
    r.pick(AGENTS)
        .replace(
            "131.0.0.0",
            &format!(
                "{}.0.{}.{}",
                r.range(120, 133),
                r.range(6000, 6999),
                r.range(0, 200)
            ),
        )
        .replace("18_1", &format!("{}_{}", r.range(16, 18), r.range(0, 6)))
        .replace("18.1", &format!("{}.{}", r.range(16, 18), r.range(0, 6)))
        .replace("rv:133.0", &format!("rv:{}.0", r.range(115, 133)))
        .replace("Firefox/133.0", &format!("Firefox/{}.0", r.range(115, 133)))
}

/// One benign client: an address, sessions, a browser.
#[derive(Clone)]
pub struct Client {
    pub ip: String,
    pub agent: String,
    pub lang: &'static str,
    pub theme: &'static str,
    pub version: String,
}

pub fn clients(r: &mut Rng, n: usize) -> Vec<Client> {
    (0..n)
        .map(|i| Client {
            ip: format!("198.51.{}.{}", 100 + i / 250, 1 + i % 250),
            agent: agent(r),
            lang: r.pick(LANGS),
            theme: r.pick(&["dark", "light", "auto"]),
            version: format!("{}.{}.{}", r.range(1, 3), r.range(0, 20), r.range(0, 9)),
        })
        .collect()
}

/// The values of one request, as a map from location to value; attack placement replaces one.
#[derive(Clone, Debug)]
pub struct Shape {
    pub route: usize,
    pub values: Vec<(&'static str, String)>,
}

/// Benign values for one request on one route.
pub fn shape(r: &mut Rng, route: usize) -> Shape {
    let mut v: Vec<(&'static str, String)> = Vec::new();
    match route {
        0 => {
            v.push(("query.q", r.pick(SEARCH).to_string()));
            v.push(("query.page", r.range(1, 40).to_string()));
            v.push((
                "query.sort",
                r.pick(&["price", "name", "rating", "newest"]).to_string(),
            ));
        }
        1 => v.push(("path.product", r.range(1, 50_000).to_string())),
        2 => {
            v.push(("path.user", r.range(1, 200_000).to_string()));
            v.push((
                "query.status",
                r.pick(&["open", "shipped", "delivered", "returned", "cancelled"])
                    .to_string(),
            ));
        }
        3 => {
            v.push(("json.productId", r.range(1, 50_000).to_string()));
            v.push(("json.author.name", name(r)));
            v.push(("json.author.email", email(r)));
            v.push(("json.rating", r.range(1, 5).to_string()));
            v.push(("json.text", text(r)));
            let n = r.range(0, 3);
            for _ in 0..n {
                v.push(("json.tags[]", r.pick(TAGS).to_string()));
            }
        }
        4 => {
            v.push(("form.name", name(r)));
            v.push(("form.email", email(r)));
            v.push(("form.subject", sentence(r)));
            v.push(("form.message", text(r)));
            v.push((
                "form.website",
                format!("https://{}/{}", r.pick(DOMAINS), r.pick(WORDS)),
            ));
        }
        _ => v.push((
            "path.files",
            format!(
                "{}-{}-{:02}.{}",
                r.pick(FILES),
                r.range(2019, 2026),
                r.range(1, 12),
                r.pick(EXT)
            ),
        )),
    }
    Shape { route, values: v }
}

/// Routes a location appears on.
pub fn route_of(location: &str) -> usize {
    match location {
        "query.q" | "query.sort" => 0,
        "query.status" => 2,
        "path.files" => 5,
        l if l.starts_with("json.") => 3,
        l if l.starts_with("form.") => 4,
        _ => 0,
    }
}

/// Builds the request of a shape for a client.
pub fn request(
    r: &mut Rng,
    s: &Shape,
    c: &Client,
    session: String,
    headers_over: &[(&'static str, String)],
) -> Req {
    let get = |k: &str| {
        s.values
            .iter()
            .find(|(l, _)| *l == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (method, target, body) = match s.route {
        0 => (
            "GET",
            format!(
                "/api/products?q={}&page={}&sort={}",
                enc(&get("query.q")),
                get("query.page"),
                enc(&get("query.sort"))
            ),
            None,
        ),
        1 => (
            "GET",
            format!("/api/products/{}", get("path.product")),
            None,
        ),
        2 => (
            "GET",
            format!(
                "/api/users/{}/orders?status={}",
                get("path.user"),
                enc(&get("query.status"))
            ),
            None,
        ),
        3 => {
            let tags: Vec<String> = s
                .values
                .iter()
                .filter(|(l, _)| *l == "json.tags[]")
                .map(|(_, v)| v.clone())
                .collect();
            let body = json!({
                "productId": get("json.productId").parse::<i64>().unwrap_or(1),
                "author": {"name": get("json.author.name"), "email": get("json.author.email")},
                "rating": get("json.rating").parse::<i64>().unwrap_or(5),
                "text": get("json.text"),
                "tags": tags,
            });
            (
                "POST",
                "/api/comments".to_string(),
                Some(("application/json".to_string(), body.to_string())),
            )
        }
        4 => {
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("name", &get("form.name"))
                .append_pair("email", &get("form.email"))
                .append_pair("subject", &get("form.subject"))
                .append_pair("message", &get("form.message"))
                .append_pair("website", &get("form.website"))
                .finish();
            (
                "POST",
                "/api/contact".to_string(),
                Some(("application/x-www-form-urlencoded".to_string(), body)),
            )
        }
        _ => (
            "GET",
            format!("/files/{}", path_enc(&get("path.files"))),
            None,
        ),
    };
    let over = |k: &str| {
        headers_over
            .iter()
            .find(|(h, _)| *h == k)
            .map(|(_, v)| v.clone())
    };
    let referer = match r.below(4) {
        0 => format!("https://shop.example/products/{}", r.range(1, 50_000)),
        1 => format!("https://shop.example/search?q={}", enc(r.pick(SEARCH))),
        2 => format!(
            "https://shop.example/{}",
            r.pick(&["", "cart", "account", "checkout"])
        ),
        _ => format!("https://www.{}/{}", r.pick(DOMAINS), r.pick(WORDS)),
    };
    let mut headers = vec![
        ("Host".to_string(), "shop.example".to_string()),
        (
            "User-Agent".to_string(),
            over("header.user-agent").unwrap_or_else(|| c.agent.clone()),
        ),
        (
            "Accept".to_string(),
            "application/json, text/plain, */*".to_string(),
        ),
        ("Accept-Language".to_string(), c.lang.to_string()),
        (
            "Referer".to_string(),
            over("header.referer").unwrap_or(referer),
        ),
        (
            "X-Client-Version".to_string(),
            over("header.x-client-version").unwrap_or_else(|| c.version.clone()),
        ),
        (
            "Cookie".to_string(),
            format!(
                "session={:032x}; theme={}",
                r.next_u64() as u128 * 0x1_0000_0001,
                over("cookie.theme").map_or_else(|| c.theme.to_string(), |t| enc(&t))
            ),
        ),
    ];
    if let Some((mime, _)) = &body {
        headers.push(("Content-Type".to_string(), mime.clone()));
    }
    Req {
        method,
        target,
        headers,
        body,
        client: c.ip.clone(),
        session,
        tag: None,
    }
}

/// `n` benign requests from `clients` (each request in one of its client's few sessions).
pub fn benign(seed: u64, n: usize, clients: &[Client]) -> Vec<Req> {
    let mut r = Rng::new(seed);
    (0..n)
        .map(|i| {
            let ci = r.below(clients.len());
            let c = &clients[ci];
            let route = r.pick(&[0, 0, 1, 1, 2, 3, 3, 4, 5]);
            let s = shape(&mut r, route);
            let session = format!("{seed}-{ci}-{}", i % 7);
            request(&mut r, &s, c, session, &[])
        })
        .collect()
}

/// Whether a payload can be carried at a location (header values cannot hold line breaks or
/// other control characters).
pub fn fits(location: &str, payload: &str) -> bool {
    if location.starts_with("header.") || location.starts_with("cookie.") {
        return !payload.chars().any(|c| c.is_control()) && payload.is_ascii();
    }
    !payload.is_empty()
}

/// A benign request of the location's route with `payload` at `location`.
pub fn attack(
    r: &mut Rng,
    location: &'static str,
    payload: &str,
    c: &Client,
    session: String,
) -> Req {
    let route = route_of(location);
    let mut s = shape(r, route);
    let mut headers: Vec<(&'static str, String)> = Vec::new();
    if location.starts_with("header.") || location.starts_with("cookie.") {
        headers.push((location, payload.to_string()));
    } else if let Some(slot) = s.values.iter_mut().find(|(l, _)| *l == location) {
        slot.1 = payload.to_string();
    } else {
        s.values.push((location, payload.to_string()));
    }
    request(r, &s, c, session, &headers)
}

/// Attack requests: every payload in every location it fits.
pub fn attacks(seed: u64, payloads: &[crate::crs::Payload], clients: &[Client]) -> Vec<Req> {
    let mut r = Rng::new(seed);
    let mut out = Vec::new();
    for (i, p) in payloads.iter().enumerate() {
        for loc in LOCATIONS {
            if !fits(loc, &p.value) {
                continue;
            }
            let c = &clients[r.below(clients.len())];
            let mut req = attack(&mut r, loc, &p.value, c, format!("attack-{i}-{loc}"));
            req.tag = Some(Tag {
                family: p.family.clone(),
                rule: p.rule.clone(),
                test: p.test.clone(),
                paranoia: p.paranoia,
                location: loc,
                kind: p.kind,
            });
            out.push(req);
        }
    }
    out
}
