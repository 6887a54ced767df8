//! Choosing where tensors live. libtorch's CUDA backend sits in a separate library
//! (libtorch_cuda.so) that registers itself when loaded; we load it on demand so the
//! same binary runs on machines without CUDA.

use std::sync::OnceLock;

use tch::Device;

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("CUDA was requested but is not available: {0}")]
    NoCuda(String),
    #[error("'{0}' is not a device (use auto, cpu, cuda or cuda:N)")]
    Parse(String),
    #[error("cuda:{index} requested but only {count} CUDA device(s) are visible")]
    NoSuchGpu { index: usize, count: i64 },
}

/// Loads libtorch_cuda.so once; returns why CUDA cannot be used, if it cannot.
pub fn load_cuda() -> Result<(), String> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            // The rpath of this binary points at libtorch's lib directory, and dlopen
            // searches the caller's RUNPATH.
            let name = c"libtorch_cuda.so";
            let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
            if handle.is_null() {
                let err = unsafe { libc::dlerror() };
                let msg = if err.is_null() {
                    "libtorch_cuda.so could not be loaded".to_string()
                } else {
                    unsafe { std::ffi::CStr::from_ptr(err) }.to_string_lossy().into_owned()
                };
                return Err(msg);
            }
            Ok(())
        })
        .clone()
}

/// `auto` (CUDA when present, else CPU), `cpu`, `cuda` or `cuda:N`.
pub fn parse_device(spec: &str) -> Result<Device, DeviceError> {
    let cuda = |index: usize| -> Result<Device, DeviceError> {
        load_cuda().map_err(DeviceError::NoCuda)?;
        let count = tch::Cuda::device_count();
        if count == 0 {
            return Err(DeviceError::NoCuda("libtorch_cuda loaded, but no CUDA device is visible".into()));
        }
        if index as i64 >= count {
            return Err(DeviceError::NoSuchGpu { index, count });
        }
        Ok(Device::Cuda(index))
    };
    match spec {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(cuda(0).unwrap_or(Device::Cpu)),
        "cuda" | "gpu" => cuda(0),
        s => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(i)) => cuda(i),
            _ => Err(DeviceError::Parse(s.to_string())),
        },
    }
}
