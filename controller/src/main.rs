//! `cutover`: the controller binary and its tools.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cutover::crd_yaml;

#[derive(Parser)]
#[command(
    name = "cutover",
    version,
    about = "Migrates servers to Azure with Azure Site Recovery, declaratively"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controllers against the current kubeconfig (or in-cluster config).
    Run(Box<cutover::run::RunArgs>),
    /// What manifests would do in Azure, before they are applied (`--offline`: validate them).
    Plan(Box<cutover::preview::PlanArgs>),
    /// Print the CustomResourceDefinitions as YAML (what `crds/*.yaml` holds).
    Crds {
        /// Write one file per kind into this directory instead of printing.
        #[arg(long, conflicts_with = "check")]
        out_dir: Option<PathBuf>,
        /// Compare this directory's files with the generated CRDs; exit 1 if they differ.
        #[arg(long)]
        check: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    // kubectl runs `kubectl cutover ...` as `kubectl-cutover ...`: a link of that name to this
    // binary is the plugin.
    if cutover::kubectl::invoked_as_plugin() {
        return cutover::kubectl::main();
    }
    let cli = Cli::parse();
    if let Command::Plan(args) = &cli.command {
        return match cutover::preview::run(args) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("cutover: {error:#}");
                ExitCode::from(2)
            }
        };
    }
    let result = match cli.command {
        Command::Run(args) => match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime.block_on(cutover::run::run(*args)),
            Err(error) => Err(error.into()),
        },
        Command::Crds {
            out_dir: None,
            check: None,
        } => crd_yaml::print(),
        Command::Crds {
            out_dir: Some(dir), ..
        } => crd_yaml::write(&dir),
        Command::Crds {
            check: Some(dir), ..
        } => crd_yaml::check(&dir),
        Command::Plan(_) => unreachable!("answered above"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cutover: {error:#}");
            ExitCode::FAILURE
        }
    }
}
