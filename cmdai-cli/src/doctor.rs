//! `cmdai doctor`: what a user checks when something is off.

use std::path::Path;

use anyhow::Result;
use cmdai_models::Catalog;
use serde_json::json;

use crate::cli::OutputFormat;
use crate::config::Config;
use crate::settings::Settings;

/// Prints the report; returns 1 if a problem was found (an installed model that fails its
/// check, a device that cannot be opened), else 0.
pub fn run(settings: &Settings) -> Result<u8> {
    let mut problems: Vec<String> = Vec::new();

    let cpu_features: Vec<(&str, bool)> = cpu_features();
    let build_features = build_features();
    let cache = crate::settings::cache()?;
    let device = match settings.device.open() {
        Ok(selected) if selected.name.starts_with("cuda") => {
            // The one-time compilation a first request would do (gpu.rs), done here instead.
            let kernels = match crate::gpu::prepare(settings.device, cache.root(), settings.verbose)
            {
                Some(prepared) => format!(
                    "compiled now, in {:.1} s; later runs skip this",
                    prepared.elapsed.as_secs_f64()
                ),
                None => "compiled by an earlier run".to_owned(),
            };
            json!({ "name": selected.name, "reason": selected.reason, "kernels": kernels })
        }
        Ok(selected) => json!({ "name": selected.name, "reason": selected.reason }),
        Err(error) => {
            problems.push(format!("device `{}`: {error}", settings.device_name));
            json!({ "name": settings.device_name, "error": error.to_string() })
        }
    };
    let gpus: Vec<&str> = ["metal", "cuda"]
        .into_iter()
        .filter(|f| build_features.contains(f))
        .collect();

    let config_path = Config::path().ok();
    let catalog = Catalog::builtin();
    let mut models = Vec::new();
    for entry in catalog.models() {
        let Some(path) = cache.installed(entry) else {
            continue;
        };
        let status = match cache.verified(entry) {
            Ok(Some(_)) => "verified".to_owned(),
            Ok(None) => "not installed".to_owned(),
            Err(error) => {
                problems.push(format!("model `{}`: {error}", entry.id));
                format!("FAILED: {error}")
            }
        };
        models.push(json!({ "id": entry.id, "path": path, "status": status }));
    }
    let cache_bytes = dir_size(cache.root());
    let prompt_cache_bytes = dir_size(&cache.root().join("prompt-cache"));
    let packed_bytes = dir_size(&cache.root().join("packed"));
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));

    let report = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "platform": format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        "cpu_features": cpu_features.iter().filter(|(_, on)| *on).map(|(f, _)| *f).collect::<Vec<_>>(),
        "build": { "target_features": build_features, "gpu_features": gpus },
        "threads": threads,
        "device": device,
        "shell": crate::context::detect(settings.shell.as_deref()).shell,
        "config": {
            "path": config_path,
            "exists": config_path.as_deref().is_some_and(Path::is_file),
            "model": settings.model.clone().unwrap_or_else(|| Catalog::DEFAULT_ID.to_owned()),
            "safety_policy": settings.safety.policy,
            "allow_rules": settings.safety.allow.len(),
            "deny_rules": settings.safety.deny.len(),
        },
        "cache": { "path": cache.root(), "bytes": cache_bytes, "prompt_cache_bytes": prompt_cache_bytes, "packed_weights_bytes": packed_bytes },
        "models": models,
        "problems": problems,
    });
    match settings.output {
        OutputFormat::Json => println!("{report}"),
        OutputFormat::Text => print_text(&report),
    }
    Ok(if problems.is_empty() { 0 } else { 1 })
}

fn print_text(r: &serde_json::Value) {
    let s = |v: &serde_json::Value| match v {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    println!("cmdai {} on {}", s(&r["version"]), s(&r["platform"]));
    println!("cpu features:   {}", join(&r["cpu_features"]));
    println!("built for:      {}", join(&r["build"]["target_features"]));
    let gpus = join(&r["build"]["gpu_features"]);
    println!(
        "gpu support:    {}",
        if gpus.is_empty() {
            "none in this build".into()
        } else {
            gpus
        }
    );
    match r["device"].get("error") {
        Some(error) => println!(
            "device:         {} (cannot open: {})",
            s(&r["device"]["name"]),
            s(error)
        ),
        None => println!(
            "device:         {} ({})",
            s(&r["device"]["name"]),
            s(&r["device"]["reason"])
        ),
    }
    if let Some(kernels) = r["device"].get("kernels") {
        println!("gpu kernels:    {}", s(kernels));
    }
    println!("threads:        {}", s(&r["threads"]));
    println!("shell:          {}", s(&r["shell"]));
    let exists = if r["config"]["exists"] == true {
        ""
    } else {
        " (not present: defaults)"
    };
    println!("config:         {}{exists}", s(&r["config"]["path"]));
    println!(
        "                model {}, safety policy {}, {} allow and {} deny rules",
        s(&r["config"]["model"]),
        s(&r["config"]["safety_policy"]),
        s(&r["config"]["allow_rules"]),
        s(&r["config"]["deny_rules"])
    );
    let mb = |v: &serde_json::Value| v.as_u64().unwrap_or(0) as f64 / 1e6;
    println!(
        "cache:          {} ({:.1} MB, prompt cache {:.1} MB, interleaved weights {:.1} MB)",
        s(&r["cache"]["path"]),
        mb(&r["cache"]["bytes"]),
        mb(&r["cache"]["prompt_cache_bytes"]),
        mb(&r["cache"]["packed_weights_bytes"])
    );
    let models = r["models"].as_array().cloned().unwrap_or_default();
    if models.is_empty() {
        println!("models:         none installed (the default is fetched on first use)");
    }
    for model in models {
        println!(
            "model:          {:<20} {}",
            s(&model["id"]),
            s(&model["status"])
        );
    }
    for problem in r["problems"].as_array().into_iter().flatten() {
        println!("PROBLEM:        {}", s(problem));
    }
}

fn join(list: &serde_json::Value) -> String {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// CPU features candle's kernels care about, as this CPU reports them.
fn cpu_features() -> Vec<(&'static str, bool)> {
    #[cfg(target_arch = "x86_64")]
    {
        vec![
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
            ("f16c", std::arch::is_x86_feature_detected!("f16c")),
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            (
                "avx512vnni",
                std::arch::is_x86_feature_detected!("avx512vnni"),
            ),
        ]
    }
    #[cfg(target_arch = "aarch64")]
    {
        vec![("neon", std::arch::is_aarch64_feature_detected!("neon"))]
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        Vec::new()
    }
}

/// What this binary was compiled to use.
fn build_features() -> Vec<&'static str> {
    let mut features = Vec::new();
    if cfg!(target_feature = "avx2") {
        features.push("avx2");
    }
    if cfg!(target_feature = "fma") {
        features.push("fma");
    }
    if cfg!(target_feature = "f16c") {
        features.push("f16c");
    }
    if cfg!(target_feature = "neon") {
        features.push("neon");
    }
    if cfg!(feature = "metal") {
        features.push("metal");
    }
    if cfg!(feature = "cuda") {
        features.push("cuda");
    }
    features
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}
