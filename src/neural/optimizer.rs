//! AdamW (written out so its moments are checkpointed) and the learning-rate
//! schedule (warm-up, then plateau or cosine).
use std::path::Path;

use tch::{nn, Tensor};

use super::config::{LrSchedule, TrainConfig};
use super::device::torch_err;
use crate::error::{Error, Result};

/// AdamW (Loshchilov & Hutter) written out so its moments can be checkpointed
/// (tch's built-in optimizer does not expose its state). Same update as
/// `torch.optim.AdamW`: decoupled weight decay, bias-corrected moments.
pub struct AdamW {
    names: Vec<String>,
    params: Vec<Tensor>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    pub step: i64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
}

impl AdamW {
    pub fn new(vs: &nn::VarStore, c: &TrainConfig) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let m = vars.iter().map(|(_, p)| p.zeros_like()).collect();
        let v = vars.iter().map(|(_, p)| p.zeros_like()).collect();
        let (names, params) = vars.into_iter().unzip();
        AdamW {
            names,
            params,
            m,
            v,
            step: 0,
            beta1: c.beta1,
            beta2: c.beta2,
            eps: 1e-8,
            weight_decay: c.weight_decay,
        }
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    /// Scale gradients so their global L2 norm is at most `max_norm`; returns the norm before clipping.
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        tch::no_grad(|| {
            let norms: Vec<Tensor> = self
                .params
                .iter()
                .map(|p| p.grad())
                .filter(|g| g.defined())
                .map(|g| g.norm())
                .collect();
            if norms.is_empty() {
                return 0.0;
            }
            let total = Tensor::stack(&norms, 0).norm().double_value(&[]);
            if total > max_norm {
                let scale = max_norm / (total + 1e-6);
                for p in &self.params {
                    let mut g = p.grad();
                    if g.defined() {
                        g *= scale;
                    }
                }
            }
            total
        })
    }

    pub fn step(&mut self, lr: f64) {
        self.step += 1;
        let bc1 = 1.0 - self.beta1.powi(self.step as i32);
        let bc2 = 1.0 - self.beta2.powi(self.step as i32);
        tch::no_grad(|| {
            for ((p, m), v) in self.params.iter_mut().zip(&mut self.m).zip(&mut self.v) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                *p *= 1.0 - lr * self.weight_decay;
                *m *= self.beta1;
                *m += &g * (1.0 - self.beta1);
                *v *= self.beta2;
                *v += &g * &g * (1.0 - self.beta2);
                let denom = (&*v / bc2).sqrt() + self.eps;
                *p -= (&*m / &denom) * (lr / bc1);
            }
        });
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let mut named: Vec<(String, Tensor)> = Vec::new();
        for (i, n) in self.names.iter().enumerate() {
            named.push((format!("m.{n}"), self.m[i].shallow_clone()));
            named.push((format!("v.{n}"), self.v[i].shallow_clone()));
        }
        named.push(("step".into(), Tensor::from_slice(&[self.step])));
        Tensor::save_multi(&named, path).map_err(torch_err(format!(
            "saving optimizer state {}",
            path.display()
        )))
    }

    pub fn load(&mut self, path: &Path) -> Result<()> {
        let loaded = Tensor::load_multi(path).map_err(torch_err(format!(
            "loading optimizer state {}",
            path.display()
        )))?;
        let map: std::collections::HashMap<String, Tensor> = loaded.into_iter().collect();
        let get = |k: &str| {
            map.get(k)
                .ok_or_else(|| Error::parse(path, format!("optimizer state lacks {k}")))
        };
        tch::no_grad(|| -> Result<()> {
            for (i, n) in self.names.iter().enumerate() {
                self.m[i].copy_(get(&format!("m.{n}"))?);
                self.v[i].copy_(get(&format!("v.{n}"))?);
            }
            Ok(())
        })?;
        self.step = get("step")?.int64_value(&[0]);
        Ok(())
    }
}

/// Learning rate at `step`: linear warm-up, then either cosine decay to
/// `final_lr_ratio` of the peak over `progress` in [0, 1], or the peak times
/// the plateau schedule's current `lr_scale` (floored at `final_lr_ratio`).
/// Both depend on work done, never on the clock.
pub fn learning_rate(c: &TrainConfig, step: usize, progress: f64, lr_scale: f64) -> f64 {
    if step < c.warmup_steps {
        return c.lr * (step + 1) as f64 / c.warmup_steps as f64;
    }
    match c.schedule {
        LrSchedule::Cosine => {
            let p = progress.clamp(0.0, 1.0);
            c.lr * (c.final_lr_ratio
                + (1.0 - c.final_lr_ratio) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()))
        }
        LrSchedule::Plateau => c.lr * lr_scale.max(c.final_lr_ratio),
    }
}
