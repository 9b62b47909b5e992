//! The model flags every command that judges shares (`scan`, `engine`, `dashboard`, `judge`),
//! and `rampart judge CHAIN_ID`: one chain's prompt and the model's answer.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use rampart_engine::ModelSettings;
use rampart_engine::judge::{ModelClient, judge_all};
use rampart_judge::{Facts, Judgement, Prompt, Verdict};
use rampart_report::Safe;
use rampart_report::scan::ChainOut;

use crate::webhook::parse_duration;

/// How to reach a model that judges chains (any OpenAI-compatible Chat Completions server:
/// llama.cpp's `llama-server`, Ollama, vLLM, a hosted API).
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// The server's base URL (`http://127.0.0.1:8081/v1`) or its `/chat/completions` URL.
    /// Without it nothing is judged.
    #[arg(long, env = "RAMPART_MODEL_URL", requires = "model_name")]
    pub model_url: Option<String>,
    /// The model's name as the server knows it (`qwen2.5:7b-instruct` for Ollama).
    #[arg(long, env = "RAMPART_MODEL_NAME")]
    pub model_name: Option<String>,
    /// Deadline of one chain's request, retries included.
    #[arg(long, env = "RAMPART_MODEL_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub model_timeout: Duration,
    /// File holding the API key (sent as a bearer token; re-read on every request).
    #[arg(long, env = "RAMPART_MODEL_API_KEY_FILE")]
    pub model_api_key_file: Option<PathBuf>,
    /// CA of an `https://` server's certificate (default: the system's trusted roots).
    #[arg(long, env = "RAMPART_MODEL_CA_FILE")]
    pub model_ca_file: Option<PathBuf>,
    /// Requests at once.
    #[arg(long, env = "RAMPART_MODEL_CONCURRENCY", default_value_t = 2)]
    pub model_concurrency: usize,
    /// Requests per minute (the engine leaves the rest for the next minute).
    #[arg(long, env = "RAMPART_MODEL_PER_MINUTE", default_value_t = 60)]
    pub model_per_minute: u32,
    /// Confidence from which an `exploitable` verdict makes a chain `judged` (and, with the
    /// `judgement` class, lets the bar act on a foothold).
    #[arg(long, env = "RAMPART_MODEL_THRESHOLD", default_value_t = 0.8)]
    pub model_threshold: f64,
    /// Verdicts cached (by chain and the hash of what the model was shown).
    #[arg(long, env = "RAMPART_MODEL_CACHE_SIZE", default_value_t = 4096)]
    pub model_cache_size: usize,
    /// How long a verdict is cached.
    #[arg(long, env = "RAMPART_MODEL_CACHE_TTL", default_value = "6h", value_parser = parse_duration)]
    pub model_cache_ttl: Duration,
    /// Most tokens of an answer.
    #[arg(long, env = "RAMPART_MODEL_MAX_TOKENS", default_value_t = 400)]
    pub model_max_tokens: u32,
}

impl ModelArgs {
    /// The settings, when a model is configured; their own errors (ranges, a missing name).
    pub fn settings(&self) -> anyhow::Result<Option<ModelSettings>> {
        let Some(url) = &self.model_url else {
            return Ok(None);
        };
        let s = ModelSettings {
            url: url.clone(),
            name: self.model_name.clone().unwrap_or_default(),
            timeout: self.model_timeout,
            api_key_file: self.model_api_key_file.clone(),
            ca_file: self.model_ca_file.clone(),
            concurrency: self.model_concurrency,
            per_minute: self.model_per_minute,
            threshold: self.model_threshold,
            cache_size: self.model_cache_size,
            cache_ttl: self.model_cache_ttl,
            max_tokens: self.model_max_tokens,
        };
        s.validate()?;
        Ok(Some(s))
    }
}

/// Judges `chains` offline, `concurrency` at once; verdicts by chain id.
pub fn judge_offline(
    model: &ModelSettings,
    chains: &[ChainOut],
) -> anyhow::Result<BTreeMap<String, Judgement>> {
    let client = Arc::new(ModelClient::new(model)?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let metrics = rampart_http::dashboard::JudgeMetrics::default();
    Ok(runtime.block_on(judge_all(&client, chains, model.concurrency, &metrics)))
}

/// Arguments of `rampart judge`.
#[derive(Debug, Args)]
pub struct JudgeArgs {
    /// The chain's id (as `scan` prints it).
    pub chain: String,
    /// Files or directories of manifests or dumps (as for `scan`).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Vulnerability intel (as for `scan`).
    #[command(flatten)]
    pub intel: crate::intel::IntelArgs,
    /// Print the prompt sent (system and user messages) before the answer.
    #[arg(long)]
    pub show_prompt: bool,
    /// Print the prompt only; ask nothing (no model needed).
    #[arg(long)]
    pub dry_run: bool,
    /// The model.
    #[command(flatten)]
    pub model: ModelArgs,
}

/// `rampart judge`: asks the model about one chain again (never from the cache) and prints
/// the verdict as JSON. Exit code: 0 answered, 1 no verdict (`unknown` with why), 2 no such
/// chain or bad input.
pub fn judge(args: &JudgeArgs) -> anyhow::Result<ExitCode> {
    let proved = crate::scan::prove(
        &args.paths,
        1 << 30,
        rampart_graph::Options {
            prove: rampart_graph::ProveOptions {
                max_chains_per_entry: 0,
            },
            ..rampart_graph::Options::default()
        },
        &args.intel,
    )?;
    let Some(chain) = proved.report.chains.iter().find(|c| c.id == args.chain) else {
        eprintln!(
            "rampart: no chain {} in the input ({} chains; `rampart scan` lists them)",
            Safe(&args.chain),
            proved.report.chains.len()
        );
        return Ok(ExitCode::from(2));
    };
    let facts = Facts::of(chain);
    if args.show_prompt || args.dry_run {
        let p = Prompt::new(&facts);
        // The prompt holds cluster text (already bounded and cleaned): each line is still
        // escaped like every human output.
        println!("--- system");
        for l in p.system.lines().chain(["--- user"]).chain(p.user.lines()) {
            println!("{}", Safe(l));
        }
        println!("---");
    }
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let Some(model) = args.model.settings()? else {
        anyhow::bail!("--model-url is needed to ask a model (or --dry-run to see the prompt)");
    };
    let verdicts = judge_offline(&model, std::slice::from_ref(chain))?;
    let j = verdicts
        .get(&chain.id)
        .cloned()
        .unwrap_or_else(|| rampart_judge::unanswered(&model.name, "the request did not finish"));
    println!("{}", serde_json::to_string_pretty(&j)?);
    Ok(if j.verdict == Verdict::Unknown && j.error.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
