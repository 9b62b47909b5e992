//! A stand-in for `cosign` in rampart's demos and tests: push a tiny image to a registry over
//! plain HTTP and sign it in cosign's format (the `sha256-<digest>.sig` tag, a simple-signing
//! layer, the signature in its annotation) with a test key.
//!
//! ```sh
//! sign-image keygen DIR                         # DIR/cosign.key, DIR/cosign.pub (ECDSA P-256)
//! sign-image push HOST:PORT REPO:TAG CONTENT    # prints the image's digest
//! sign-image sign HOST:PORT REPO DIGEST DIR     # signs REPO@DIGEST with DIR/cosign.key
//! ```

use std::path::Path;
use std::process::ExitCode;

use rampart_testkit::oci::Pusher;
use rampart_testkit::sigstore::{TestKey, payload};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sign-image: {e}");
            return ExitCode::FAILURE;
        }
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["keygen", dir] => {
            let key = TestKey::generate();
            let dir = Path::new(dir);
            let written = std::fs::create_dir_all(dir)
                .and_then(|_| std::fs::write(dir.join("cosign.key"), key.private_pem()))
                .and_then(|_| std::fs::write(dir.join("cosign.pub"), key.public_pem()));
            if let Err(e) = written {
                eprintln!("sign-image: {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
            println!("{}", dir.join("cosign.pub").display());
        }
        ["push", host, reference, content] => {
            let Some((repo, tag)) = reference.rsplit_once(':') else {
                eprintln!("sign-image: write REPO:TAG");
                return ExitCode::from(2);
            };
            let digest = runtime.block_on(Pusher::new(host).image(repo, tag, content.as_bytes()));
            println!("{digest}");
        }
        ["sign", host, repo, digest, dir] => {
            let pem = match std::fs::read_to_string(Path::new(dir).join("cosign.key")) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("sign-image: {dir}/cosign.key: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let key = match TestKey::from_pem(&pem) {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("sign-image: {dir}/cosign.key: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let signed = key.sign(payload(&format!("{host}/{repo}"), digest));
            runtime.block_on(Pusher::new(host).signatures(repo, digest, &[signed]));
            println!("signed {host}/{repo}@{digest}");
        }
        _ => {
            eprintln!(
                "usage: sign-image keygen DIR | push HOST:PORT REPO:TAG CONTENT | sign HOST:PORT REPO DIGEST DIR"
            );
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
