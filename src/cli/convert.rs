//! `harp convert`: a HAR, or an OpenAPI 3.0/3.1 definition (JSON or YAML), into a Postman
//! Collection v2.1 with saved examples.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use harp::collection::{convert, openapi};
use harp::har;

use super::{bad_input, say};

/// Arguments of `harp convert`.
#[derive(Debug, clap::Args)]
pub(super) struct ConvertArgs {
    /// The HAR (.har, .zhar, .zip) or OpenAPI definition (.yaml, .yml, .json) to convert.
    pub input: PathBuf,
    /// Where to write the collection (…postman_collection.json).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// The collection's name (default: the HAR's file name).
    #[arg(long)]
    pub name: Option<String>,
}

pub(super) fn run(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    if openapi::is_definition(&args.input) {
        let doc = openapi::load(&args.input).map_err(bad_input)?;
        let conversion = openapi::to_collection(&doc, args.name.as_deref());
        let examples = count(&conversion.collection["item"], "response");
        let requests = count(&conversion.collection["item"], "request");
        write(&args, conversion)?;
        say(format!(
            "converted {requests} operations with {examples} examples: {}",
            args.output.display()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let file = har::read_har_file(&args.input).map_err(bad_input)?;
    let name = args.name.clone().unwrap_or_else(|| {
        args.input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "harp".into())
    });
    let conversion = convert::convert(&file, &name).map_err(bad_input)?;
    let collection = conversion.collection.clone();
    write(&args, conversion)?;
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

/// Prints the conversion's notes and writes its collection to `--output`.
fn write(args: &ConvertArgs, conversion: convert::Conversion) -> anyhow::Result<()> {
    for note in &conversion.notes {
        eprintln!("harp convert: {}: {note}", args.input.display());
    }
    let mut bytes = serde_json::to_vec_pretty(&conversion.collection)?;
    bytes.push(b'\n');
    har::check_writable(&args.output)
        .map_err(bad_input)
        .context("cannot write the collection")?;
    harp::output::write_atomic(&args.output, &bytes, None)
        .with_context(|| format!("writing {}", args.output.display()))
}

/// How many `key` values (requests, or examples) the items under `items` hold.
fn count(items: &serde_json::Value, key: &str) -> usize {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| match (item.get("item"), item.get(key)) {
            (Some(children), _) => count(children, key),
            (None, Some(serde_json::Value::Array(list))) => list.len(),
            (None, Some(_)) => 1,
            (None, None) => 0,
        })
        .sum()
}
