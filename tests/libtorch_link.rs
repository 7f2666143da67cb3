//! The test binaries, like `crossover`, must find libtorch through the rpath
//! that build.rs embeds: no LD_LIBRARY_PATH needed.
#[test]
fn libtorch_loads_and_computes() {
    let t = tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0]);
    let s: f64 = t.sum(tch::Kind::Float).double_value(&[]);
    assert_eq!(s, 6.0);
}
