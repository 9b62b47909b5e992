//! The guard's learning and judging, on the original security-guard's defects: criteria per
//! route, support thresholds against poisoning, quantile limits, mergeable piles.

use proptest::prelude::*;
use rampart_api::{GuardControl, GuardMode};
use rampart_guard::exchange::{Body, Exchange, extract};
use rampart_guard::{Decision, Judge, Origin, ServicePile, decide, learn};

fn get(target: &str) -> Exchange {
    Exchange {
        method: "GET".into(),
        target: target.into(),
        headers: vec![(
            "user-agent".into(),
            "Mozilla/5.0 (X11; Linux x86_64)".into(),
        )],
        ..Exchange::default()
    }
}

fn post_json(target: &str, body: &str) -> Exchange {
    Exchange {
        method: "POST".into(),
        target: target.into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: Body {
            bytes: body.as_bytes().to_vec(),
            size: body.len() as u64,
            ..Body::default()
        },
        ..Exchange::default()
    }
}

fn origin(i: u64) -> Origin {
    Origin {
        session: 1000 + i,
        client: 2000 + i % 5,
        request: 3000 + i,
    }
}

fn observe(p: &mut ServicePile, xs: &[Exchange], start: u64) {
    for (i, x) in xs.iter().enumerate() {
        p.observe(&extract(x), None, None, origin(start + i as u64));
    }
}

fn judge_of(p: &ServicePile) -> Judge {
    let c = learn::learn(p, &GuardControl::default());
    Judge::new(Some(&c), None)
}

fn reasons(j: &Judge, x: &Exchange) -> Vec<String> {
    j.request(&extract(x), None)
        .reasons
        .iter()
        .map(|r| format!("{}: {}", r.location, r.reason))
        .collect()
}

#[test]
fn criteria_are_per_route_and_templated() {
    let mut p = ServicePile::default();
    let mut xs = Vec::new();
    for i in 0..40 {
        xs.push(get(&format!("/users/{}?fields=name", 100 + i)));
        xs.push(get(&format!("/search?q=red+shoes+{i}")));
    }
    observe(&mut p, &xs, 0);
    let j = judge_of(&p);
    assert!(reasons(&j, &get("/users/77?fields=name")).is_empty());
    // `q` is a key of /search, not of /users/{int}: one route's keys never widen another's.
    assert_eq!(
        reasons(&j, &get("/users/77?q=x")),
        ["query.q: key never seen here"]
    );
    assert_eq!(reasons(&j, &get("/admin")), ["route: route never seen"]);
    let del = Exchange {
        method: "DELETE".into(),
        ..get("/users/5")
    };
    assert_eq!(
        reasons(&j, &del),
        ["route: method never seen on this route"]
    );
}

#[test]
fn one_poisoned_request_teaches_nothing() {
    let mut p = ServicePile::default();
    let mut xs: Vec<Exchange> = (0..30).map(|i| get(&format!("/items?id={i}"))).collect();
    xs.push(get("/items?id=1%27%20OR%201=1--"));
    observe(&mut p, &xs, 0);
    let j = judge_of(&p);
    let r = reasons(&j, &get("/items?id=2%27%20OR%202=2--"));
    assert!(
        r.iter().any(|r| r.contains("punctuation never seen here")),
        "{r:?}"
    );
    // Seen in enough sessions from enough clients, the same shape is learned.
    let mut xs: Vec<Exchange> = Vec::new();
    for i in 0..6 {
        xs.push(get(&format!("/items?id=O%27Brien{i}")));
    }
    observe(&mut p, &xs, 100);
    let j = judge_of(&p);
    assert!(
        reasons(&j, &get("/items?id=D%27Arcy"))
            .iter()
            .all(|r| !r.contains("punctuation"))
    );
}

#[test]
fn one_outlier_does_not_widen_a_limit() {
    let mut p = ServicePile::default();
    let mut xs: Vec<Exchange> = (0..60)
        .map(|i| get(&format!("/p?name=ab{}", i % 10)))
        .collect();
    xs.push(get(&format!("/p?name={}", "a".repeat(5000))));
    observe(&mut p, &xs, 0);
    let c = learn::learn(&p, &GuardControl::default());
    let len = c.routes[0].values["query.name"].length.unwrap_or_default();
    assert!(len.max < 50, "{len:?}");
    assert_eq!(len.p50, 3);
    let j = Judge::new(Some(&c), None);
    assert_eq!(
        reasons(&j, &get(&format!("/p?name={}", "a".repeat(400)))),
        [
            "query.name: length above learned limit",
            "query.name: letters above learned limit"
        ]
    );
}

#[test]
fn json_bodies_typed_values_and_injections_in_free_text() {
    let mut p = ServicePile::default();
    let mut xs = Vec::new();
    for i in 0..50 {
        xs.push(post_json(
            "/api/comments",
            &format!(r#"{{"post":{i},"author":{{"email":"u{i}@example.com"}},"text":"Nice post, thanks! I'd say it's {i}% better (really)."}}"#),
        ));
    }
    observe(&mut p, &xs, 0);
    let j = judge_of(&p);
    let ok = post_json(
        "/api/comments",
        r#"{"post":7,"author":{"email":"x@example.org"},"text":"Great (mostly), it's fine!"}"#,
    );
    assert!(reasons(&j, &ok).is_empty(), "{:?}", reasons(&j, &ok));
    let bad_email = post_json(
        "/api/comments",
        r#"{"post":7,"author":{"email":"x"},"text":"ok"}"#,
    );
    assert_eq!(reasons(&j, &bad_email), ["json.author.email: not email"]);
    let sqli = post_json(
        "/api/comments",
        r#"{"post":7,"author":{"email":"x@example.org"},"text":"1' or '1'='1"}"#,
    );
    assert!(!reasons(&j, &sqli).is_empty());
    let arr = post_json("/api/comments", "[1,2]");
    assert!(!reasons(&j, &arr).is_empty());
    let v = j.request(&extract(&sqli), None);
    assert_eq!(decide(GuardMode::Block, &v), Decision::Block);
    assert_eq!(decide(GuardMode::Alert, &v), Decision::Alert);
    assert_eq!(decide(GuardMode::Learn, &v), Decision::Pass);
}

fn arb_pile() -> impl Strategy<Value = ServicePile> {
    let req = (0u8..4, 0u16..40, "[a-z'<]{0,6}", 0u64..8);
    proptest::collection::vec(req, 0..25).prop_map(|rs| {
        let mut p = ServicePile::default();
        for (route, id, word, who) in rs {
            let x = get(&format!(
                "/r{route}/{id}?w={}",
                word.replace('\'', "%27").replace('<', "%3C")
            ));
            p.observe(
                &extract(&x),
                None,
                None,
                Origin {
                    session: who,
                    client: who % 3,
                    request: u64::from(id) * 31 + who,
                },
            );
        }
        p
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn pile_merge_is_associative_commutative_idempotent(a in arb_pile(), b in arb_pile(), c in arb_pile()) {
        let m = |x: &ServicePile, y: &ServicePile| { let mut z = x.clone(); z.merge(y); z };
        prop_assert_eq!(m(&m(&a, &b), &c), m(&a, &m(&b, &c)));
        prop_assert_eq!(m(&a, &b), m(&b, &a));
        prop_assert_eq!(m(&a, &a), a.clone());
        let ab = m(&a, &b);
        prop_assert_eq!(m(&ab, &b), ab.clone());
    }
}
