//! libtorch failures (CUDA out of memory, a kernel that rejects its input) as errors.
//!
//! tch's infallible methods panic when libtorch throws; its `f_` variants return the
//! error. The training step runs hundreds of tensor operations across every block, so
//! rather than thread `f_` calls through each forward pass, [`catch`] runs a closure of
//! them and turns a libtorch panic into a [`TorchError`], without the panic message:
//! the error goes up the normal path (`train: ...`, exit 1).

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

#[derive(Debug, thiserror::Error)]
#[error("libtorch failed during {during}: {message}")]
pub struct TorchError {
    pub during: &'static str,
    pub message: String,
}

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`; a libtorch exception inside it becomes `Err`. Other panics (bugs) keep
/// unwinding as panics.
pub fn catch<T>(during: &'static str, f: impl FnOnce() -> T) -> Result<T, TorchError> {
    install_quiet_hook();
    let was = CATCHING.with(|c| c.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(was));
    match result {
        Ok(v) => Ok(v),
        Err(payload) => {
            let text = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            match torch_message(&text) {
                Some(message) => Err(TorchError { during, message }),
                None => panic::resume_unwind(payload),
            }
        }
    }
}

/// The libtorch message inside a tch panic (`... Torch("CUDA out of memory ...")`).
fn torch_message(panic_text: &str) -> Option<String> {
    let start = panic_text.find("Torch(\"")? + "Torch(\"".len();
    let body = &panic_text[start..];
    let end = body.rfind("\")").unwrap_or(body.len());
    // The first line carries the message; the rest is libtorch's C++ backtrace.
    let msg = body[..end].replace("\\n", "\n");
    Some(msg.lines().next().unwrap_or("").trim().to_string())
}

/// Silences the default panic report for libtorch panics inside [`catch`]; every other
/// panic is reported as before.
fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let text = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("");
            if CATCHING.with(|c| c.get()) && torch_message(text).is_some() {
                return;
            }
            previous(info)
        }));
    });
}

#[cfg(test)]
mod tests {
    use tch::{Device, Kind, Tensor};

    use super::*;

    #[test]
    fn an_impossible_allocation_is_an_error_not_a_panic() {
        let e = catch("a test step", || Tensor::zeros([1i64 << 50, 1 << 20], (Kind::Float, Device::Cpu))).unwrap_err();
        assert_eq!(e.during, "a test step");
        assert!(!e.message.is_empty() && !e.message.contains('\n'), "{e}");
        // Nothing is left switched on: the next call works.
        assert_eq!(catch("ok", || 2 + 2).unwrap(), 4);
    }

    #[test]
    fn a_shape_error_inside_an_operation_is_an_error() {
        let a = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
        let b = Tensor::zeros([4, 5], (Kind::Float, Device::Cpu));
        let e = catch("matmul", || a.matmul(&b)).unwrap_err();
        assert!(e.to_string().starts_with("libtorch failed during matmul: "), "{e}");
    }

    #[test]
    fn other_panics_still_panic() {
        let r = std::panic::catch_unwind(|| catch("x", || panic!("a bug")));
        assert!(r.is_err());
    }
}
