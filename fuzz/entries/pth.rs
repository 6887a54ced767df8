//! Fuzz entry for the `.pth` (zip + pickle) reader. Shared by fuzz/fuzz_targets/pth.rs
//! and the replay test train/tests/fuzz_replay.rs; the includer provides `pth` (the
//! module train/src/pth) in the parent module.

use super::pth;

pub fn run(data: &[u8]) {
    let origin = std::path::Path::new("fuzz.pth");
    if let Ok(tensors) = pth::read_state_dict_from_reader(std::io::Cursor::new(data), origin) {
        for (_, t) in &tensors {
            assert_eq!(t.data.len(), t.numel() * t.dtype.size(), "tensor bytes disagree with shape");
        }
    }
}
