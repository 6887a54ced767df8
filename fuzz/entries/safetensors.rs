//! Fuzz entry for the safetensors loader; see pth.rs for how it is shared.

use super::pth;

pub fn run(data: &[u8]) {
    let origin = std::path::Path::new("fuzz.safetensors");
    if let Ok(tensors) = pth::read_safetensors_bytes(data, origin) {
        for (_, t) in &tensors {
            assert_eq!(t.data.len(), t.numel() * t.dtype.size(), "tensor bytes disagree with shape");
        }
    }
}
