//! `act`: the name the original EOS documentation uses for `eos`.

fn main() -> std::process::ExitCode {
    eos::cli::main()
}
