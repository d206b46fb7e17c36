//! `eos`: the EOS command-line tool.

fn main() -> std::process::ExitCode {
    eos::cli::main()
}
