//! `guard-demo`: serve the demo API, write the harness's traffic as HAR files, or run the
//! detection harness.
//!
//! * `guard-demo serve [ADDR]` (default 127.0.0.1:8080)
//! * `guard-demo traffic CORPUS OUTDIR`: learn.har, holdout.har, attacks.har
//! * `guard-demo detect CORPUS`: the detection report (what the test asserts)

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
                eprintln!("{}: {} requests", p.display(), reqs.len());
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
        _ => {
            bail!("usage: guard-demo serve [ADDR] | traffic CORPUS OUTDIR | detect [CORPUS] [--fp]")
        }
    }
}
