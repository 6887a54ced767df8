//! The command-line error path shared by the `zoo`, `infer` and `train` binaries: one
//! line on stderr with the cause chain, exit status 2 for a usage error (bad flag, bad
//! spec, bad input file), 1 for any other failure, and 0 when stdout was closed early
//! (`infer score ... | head`).

use std::error::Error;
use std::process::ExitCode;

/// A mistake in how the command was called (exit status 2), as opposed to a failure
/// while running.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Whether a cause in an error chain is a usage error; each binary adds its libraries'
/// usage-type errors to [`UsageError`] and the zoo's own.
pub type IsUsage = fn(&(dyn Error + 'static)) -> bool;

/// Prints `program: <error>: <cause>: ...` and returns the exit status for `err`.
pub fn report(program: &str, err: &anyhow::Error, is_usage: IsUsage) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
    eprintln!("{program}: {}", one_line(err));
    ExitCode::from(exit_code(err, is_usage))
}

/// 2 for usage errors, 1 otherwise.
pub fn exit_code(err: &anyhow::Error, is_usage: IsUsage) -> u8 {
    let usage = err.chain().any(|c| {
        c.is::<UsageError>() || c.downcast_ref::<crate::ZooError>().is_some_and(crate::ZooError::is_usage) || is_usage(c)
    });
    if usage {
        2
    } else {
        1
    }
}

/// The error and its causes on one line, skipping causes the message already quotes
/// (thiserror messages often repeat their source).
pub fn one_line(err: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in err.chain() {
        let text = cause.to_string().replace('\n', " ");
        if !msg.contains(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
    }
    msg
}

/// A write to a closed pipe anywhere in the chain.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// `println!` without the panic on a closed stdout: the error goes up the normal path
/// (and [`report`] turns a broken pipe into a quiet exit).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &(dyn Error + 'static)) -> bool {
        false
    }

    #[test]
    fn usage_errors_exit_2_failures_1_and_the_chain_is_one_line() {
        let e = anyhow::Error::new(UsageError("--batch-size 0".into())).context("train fit");
        assert_eq!(exit_code(&e, none), 2);
        let e = anyhow::anyhow!("disk full\nreally").context("writing x");
        assert_eq!(exit_code(&e, none), 1);
        assert_eq!(one_line(&e), "writing x: disk full really");
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "pipe");
        assert!(is_broken_pipe(&anyhow::Error::new(io).context("stdout")));
        let is_io = |c: &(dyn Error + 'static)| c.is::<std::io::Error>();
        let e = anyhow::Error::new(std::io::Error::other("x"));
        assert_eq!(exit_code(&e, is_io), 2);
    }

    #[test]
    fn repeated_causes_are_said_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot read a.tsv: {0}")]
        struct Outer(#[source] std::io::Error);
        let e = anyhow::Error::new(Outer(std::io::Error::other("no such file")));
        assert_eq!(one_line(&e), "cannot read a.tsv: no such file");
    }
}
