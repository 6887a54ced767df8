// Embed libtorch's directory as an rpath so `train` runs from target/ without
// LD_LIBRARY_PATH. libtorch_cuda is deliberately not linked: it needs the CUDA
// libraries at load time, which CPU machines lack; `train::device` loads it at run
// time when a GPU is asked for.
fn main() {
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
