// Embed libtorch's library directory as an rpath in every binary, test and
// bench, so `crossover` runs without LD_LIBRARY_PATH. torch-sys (links = "tch")
// tells its direct dependents where it found libtorch.
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        println!("cargo:rustc-env=CROSSOVER_LIBTORCH_LIB={dir}");
    }
}
