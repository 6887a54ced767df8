// Test binaries that call libtorch (legnet_online) need libtorch's directory as an
// rpath, as the `train` binaries get from train/build.rs; without it they fail to start
// with `libtorch_cpu.so: cannot open shared object file`.
fn main() {
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
