//! Where a network runs: `--device` resolved to a libtorch device.
use tch::Device;

use crate::error::{Error, Result};
use crate::pipeline::DeviceChoice;

/// Resolve `--device`: `auto` takes CUDA when libtorch sees it.
pub fn resolve_device(choice: DeviceChoice) -> Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Auto => Ok(Device::cuda_if_available()),
        DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        DeviceChoice::Cuda => Err(Error::Config(
            "--device cuda: libtorch sees no CUDA device on this machine".into(),
        )),
    }
}

pub(crate) fn device_name(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// An `Error::Torch` maker with `context` (what was being done).
pub(crate) fn torch_err(context: impl Into<String>) -> impl FnOnce(tch::TchError) -> Error {
    let context = context.into();
    move |source| Error::Torch { context, source }
}
