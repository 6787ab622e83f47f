//! The `harp` command: parses arguments, runs the command, maps errors to exit codes
//! (0 ok, 1 runtime failure, 2 usage or bad input).

#![warn(unreachable_pub)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
