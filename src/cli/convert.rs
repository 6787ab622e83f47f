//! `harp convert`: a HAR into a Postman Collection v2.1.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use harp::collection::convert;
use harp::har;

use super::{bad_input, say};

/// Arguments of `harp convert`.
#[derive(Debug, clap::Args)]
pub(super) struct ConvertArgs {
    /// The HAR to convert (.har, .zhar, .zip).
    pub input: PathBuf,
    /// Where to write the collection (…postman_collection.json).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// The collection's name (default: the HAR's file name).
    #[arg(long)]
    pub name: Option<String>,
}

pub(super) fn run(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    let file = har::read_har_file(&args.input).map_err(bad_input)?;
    let name = args.name.clone().unwrap_or_else(|| {
        args.input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "harp".into())
    });
    let convert::Conversion { collection, notes } =
        convert::convert(&file, &name).map_err(bad_input)?;
    for note in &notes {
        eprintln!("harp convert: {}: {note}", args.input.display());
    }
    let mut bytes = serde_json::to_vec_pretty(&collection)?;
    bytes.push(b'\n');
    har::check_writable(&args.output)
        .map_err(bad_input)
        .context("cannot write the collection")?;
    harp::output::write_atomic(&args.output, &bytes, None)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let folders = collection["item"].as_array().map_or(0, Vec::len);
    let items: usize = collection["item"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f["item"].as_array().map_or(0, Vec::len))
        .sum();
    say(format!(
        "converted {} entries into {items} requests in {folders} host folder(s): {}",
        file.har.log.entries.len(),
        args.output.display()
    ));
    Ok(ExitCode::SUCCESS)
}
