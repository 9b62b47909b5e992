//! `guard-demo`: serve the demo API, write the harness's traffic as HAR files, or run the
//! detection harness.
//!
//! * `guard-demo serve [ADDR]` (default 127.0.0.1:8080)
//! * `guard-demo traffic CORPUS OUTDIR`: learn.har, holdout.har, attacks.har
//! * `guard-demo detect CORPUS`: the detection report (what the test asserts)
//! * `guard-demo send CORPUS ADDR [learn|holdout|attacks] [N]`: send the harness's requests to a
//!   live proxy (the gate while it learns, say)
//! * `guard-demo compare CORPUS ADDR [NAME]`: the same, beside a live proxy at ADDR (403 =
//!   flagged), e.g. nginx + ModSecurity + CRS in front of `guard-demo serve`

use std::path::PathBuf;

use anyhow::{Context, bail};
use rampart_guard_demo::{har, harness};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => {
            let addr = args
                .get(1)
                .map_or("127.0.0.1:8080", String::as_str)
                .to_string();
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind(&addr)
                    .await
                    .with_context(|| format!("binding {addr}"))?;
                eprintln!("guard-demo: demo API on http://{addr}");
                axum::serve(l, rampart_guard_demo::api::router()).await?;
                Ok(())
            })
        }
        Some("traffic") => {
            let (Some(corpus), Some(out)) = (args.get(1), args.get(2)) else {
                bail!("usage: guard-demo traffic CORPUS OUTDIR");
            };
            let t = harness::traffic(&PathBuf::from(corpus), harness::Plan::default())?;
            let out = PathBuf::from(out);
            std::fs::create_dir_all(&out)?;
            for (name, reqs) in [
                ("learn", &t.learn),
                ("holdout", &t.holdout),
                ("attacks", &t.attacks),
            ] {
                let p = out.join(format!("{name}.har"));
                std::fs::write(
                    &p,
                    serde_json::to_vec(&har::document(reqs, "shop.example"))?,
                )?;
                println!("{}: {} requests", p.display(), reqs.len());
            }
            Ok(())
        }
        Some("detect") => {
            let corpus = args
                .get(1)
                .map_or("tests/corpora/crs-regression", String::as_str);
            let t = harness::traffic(&PathBuf::from(corpus), harness::Plan::default())?;
            let rep = harness::run(&t, &rampart_api::GuardControl::default())?;
            print!("{}", harness::render(&rep));
            if args.iter().any(|a| a == "--fp") {
                for f in &rep.false_positives {
                    println!("FP {f}");
                }
            }
            Ok(())
        }
        Some("send") => {
            // guard-demo send CORPUS ADDR [learn|holdout|attacks] [N]: the harness's requests to a live
            // proxy; prints how it answered.
            let (Some(corpus), Some(addr)) = (args.get(1), args.get(2)) else {
                bail!("usage: guard-demo send CORPUS ADDR [learn|holdout|attacks] [N]");
            };
            let addr: std::net::SocketAddr = addr.parse().context("ADDR: host:port")?;
            let which = args.get(3).map_or("learn", String::as_str);
            let n: usize = args
                .get(4)
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX);
            let t = harness::traffic(&PathBuf::from(corpus), harness::Plan::default())?;
            let reqs = match which {
                "learn" => &t.learn,
                "holdout" => &t.holdout,
                "attacks" => &t.attacks,
                w => bail!("{w}: learn, holdout or attacks"),
            };
            let reqs = &reqs[..n.min(reqs.len())];
            let rt = tokio::runtime::Runtime::new()?;
            let answers = rt.block_on(rampart_guard_demo::remote::send(addr, reqs, 16));
            let mut counts = std::collections::BTreeMap::new();
            for a in answers {
                *counts.entry(format!("{a:?}")).or_insert(0usize) += 1;
            }
            println!("{} {which} requests: {counts:?}", reqs.len());
            Ok(())
        }
        Some("compare") => {
            // guard-demo compare CORPUS ADDR [NAME]: the guard in-process beside a live proxy.
            let (Some(corpus), Some(addr)) = (args.get(1), args.get(2)) else {
                bail!("usage: guard-demo compare CORPUS ADDR [NAME]");
            };
            let name = args.get(3).map_or("peer", String::as_str);
            let addr: std::net::SocketAddr = addr.parse().context("ADDR: host:port")?;
            let t = harness::traffic(&PathBuf::from(corpus), harness::Plan::default())?;
            let guard = harness::run(&t, &rampart_api::GuardControl::default())?;
            let rt = tokio::runtime::Runtime::new()?;
            let started = std::time::Instant::now();
            let (peer, other) = rt.block_on(rampart_guard_demo::remote::judge(addr, &t, 16));
            eprintln!(
                "{name}: {} requests in {:.1} s",
                t.holdout.len() + t.attacks.len(),
                started.elapsed().as_secs_f64()
            );
            print!(
                "{}",
                harness::render_side_by_side(&guard, name, &peer, &other)
            );
            Ok(())
        }
        _ => bail!(
            "usage: guard-demo serve [ADDR] | traffic CORPUS OUTDIR | detect [CORPUS] [--fp] | send CORPUS ADDR [learn|holdout|attacks] [N] | compare CORPUS ADDR [NAME]"
        ),
    }
}
