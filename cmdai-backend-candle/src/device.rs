//! Which device runs the model: `auto`, `cpu`, `metal`, `cuda[:N]`.

use std::fmt;
use std::str::FromStr;

use candle_core::Device;

use crate::error::{CandleError, Result};

/// A device as the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// The best available: Metal on Apple GPUs, CUDA when a GPU is usable, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// The Apple GPU (builds with the `metal` feature).
    Metal,
    /// An NVIDIA GPU by ordinal (builds with the `cuda` feature).
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "metal" => Ok(DeviceChoice::Metal),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| {
                    format!("unknown device `{s}`; expected auto, cpu, metal, cuda or cuda:N")
                }),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Metal => f.write_str("metal"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// A device opened for use, with why it was chosen.
#[derive(Debug, Clone)]
pub struct SelectedDevice {
    /// The candle device.
    pub device: Device,
    /// The device as named to the user, e.g. `cpu`.
    pub name: String,
    /// Why this one, for `-v` output.
    pub reason: String,
}

impl DeviceChoice {
    /// Opens the device; `Auto` falls back to the CPU, explicit choices fail if unavailable.
    pub fn open(self) -> Result<SelectedDevice> {
        match self {
            DeviceChoice::Cpu => Ok(cpu("asked for")),
            DeviceChoice::Metal => open_metal(),
            DeviceChoice::Cuda(ordinal) => open_cuda(ordinal),
            DeviceChoice::Auto => {
                if cfg!(feature = "metal")
                    && let Ok(mut selected) = open_metal()
                {
                    selected.reason = "auto: a Metal GPU is available".into();
                    return Ok(selected);
                }
                if cfg!(feature = "cuda") {
                    match open_cuda(0) {
                        Ok(mut selected) => {
                            selected.reason = "auto: a CUDA GPU is available".into();
                            return Ok(selected);
                        }
                        Err(error) => {
                            return Ok(cpu(&format!("auto: no usable CUDA GPU ({error})")));
                        }
                    }
                }
                Ok(cpu(
                    "auto: this build has no GPU support (features `metal`, `cuda`)",
                ))
            }
        }
    }
}

fn cpu(reason: &str) -> SelectedDevice {
    SelectedDevice {
        device: Device::Cpu,
        name: "cpu".into(),
        reason: reason.into(),
    }
}

fn open_metal() -> Result<SelectedDevice> {
    if !cfg!(feature = "metal") {
        return Err(unavailable(
            "metal",
            "this build has no Metal support; rebuild with `--features metal`",
        ));
    }
    let device = Device::new_metal(0).map_err(|e| unavailable("metal", &e.to_string()))?;
    Ok(SelectedDevice {
        device,
        name: "metal".into(),
        reason: "asked for".into(),
    })
}

fn open_cuda(ordinal: usize) -> Result<SelectedDevice> {
    let name = format!("cuda:{ordinal}");
    if !cfg!(feature = "cuda") {
        return Err(unavailable(
            &name,
            "this build has no CUDA support; rebuild with `--features cuda`",
        ));
    }
    // A stream of its own rather than the per-thread default one: the fused decode step
    // (cuda_decode.rs) records its launches on it as a CUDA graph.
    let device =
        Device::new_cuda_with_stream(ordinal).map_err(|e| unavailable(&name, &e.to_string()))?;
    #[cfg(feature = "cuda")]
    if let Device::Cuda(cuda) = &device {
        // candle and cmdai use this one stream only, so cudarc's per-buffer event tracking,
        // which costs driver calls on every launch, guards against nothing here.
        #[allow(unsafe_code)]
        // SAFETY: called before any tensor exists on the device, and all work on it goes to one
        // stream, so no buffer is used on a stream other than the one that wrote it.
        unsafe {
            cuda.disable_event_tracking();
        }
    }
    Ok(SelectedDevice {
        device,
        name,
        reason: "asked for".into(),
    })
}

fn unavailable(device: &str, reason: &str) -> CandleError {
    CandleError::DeviceUnavailable {
        device: device.into(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_names() {
        for (text, expected) in [
            ("auto", DeviceChoice::Auto),
            ("cpu", DeviceChoice::Cpu),
            ("metal", DeviceChoice::Metal),
            ("cuda", DeviceChoice::Cuda(0)),
            ("cuda:3", DeviceChoice::Cuda(3)),
        ] {
            assert_eq!(text.parse::<DeviceChoice>(), Ok(expected));
        }
        assert!(
            "gpu"
                .parse::<DeviceChoice>()
                .unwrap_err()
                .contains("expected auto")
        );
    }

    #[test]
    fn auto_without_gpu_features_picks_the_cpu_and_says_why() {
        if cfg!(any(feature = "metal", feature = "cuda")) {
            return;
        }
        let selected = DeviceChoice::Auto.open().unwrap();
        assert_eq!(selected.name, "cpu");
        assert!(selected.reason.contains("no GPU support"));
        assert!(
            DeviceChoice::Cuda(0)
                .open()
                .unwrap_err()
                .to_string()
                .contains("--features cuda")
        );
    }
}
