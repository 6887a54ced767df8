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

/// Where the user asked tensors to live: `auto` (CUDA when present, else CPU), `cpu`,
/// `cuda` or `cuda:N`. Parsed by clap at the edge, stored in run.json by name, and
/// turned into a [`Device`] by [`DeviceSpec::resolve`] (which checks CUDA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
}

impl std::str::FromStr for DeviceSpec {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        match s {
            "auto" => Ok(DeviceSpec::Auto),
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
            s => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(i)) => Ok(DeviceSpec::Cuda(i)),
                _ => Err(DeviceError::Parse(s.to_string())),
            },
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Auto => f.write_str("auto"),
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl serde::Serialize for DeviceSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DeviceSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl DeviceSpec {
    pub fn resolve(self) -> Result<Device, DeviceError> {
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
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Auto => Ok(cuda(0).unwrap_or(Device::Cpu)),
            DeviceSpec::Cuda(i) => cuda(i),
        }
    }
}

/// `auto` (CUDA when present, else CPU), `cpu`, `cuda` or `cuda:N`.
pub fn parse_device(spec: &str) -> Result<Device, DeviceError> {
    spec.parse::<DeviceSpec>()?.resolve()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_round_trip_and_bad_ones_are_named() {
        for s in ["auto", "cpu", "cuda:0", "cuda:3"] {
            assert_eq!(s.parse::<DeviceSpec>().unwrap().to_string(), s);
        }
        assert_eq!("cuda".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        let e = "tpu".parse::<DeviceSpec>().unwrap_err().to_string();
        assert!(e.contains("'tpu' is not a device"), "{e}");
        assert_eq!(serde_json::to_string(&DeviceSpec::Cuda(1)).unwrap(), "\"cuda:1\"");
        assert_eq!(DeviceSpec::Cpu.resolve().unwrap(), Device::Cpu);
    }
}
