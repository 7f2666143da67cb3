//! Phonetic decision trees tying triphone states (Kaldi's build-tree shape):
//! one tree per (phone, HMM state), questions "is the left/right context in
//! set Q?" where the sets come from clustering the monophone states
//! bottom-up, splits chosen greedily by single-Gaussian likelihood gain.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TreeNode {
    Leaf(usize),
    /// `pos` 0 = left context, 1 = right context; `set[c]` for context c
    /// (index `num_phones` is the word boundary).
    Split {
        pos: u8,
        set: Vec<bool>,
        yes: usize,
        no: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextTree {
    pub num_phones: usize,
    pub states_per_phone: usize,
    /// Root node per (phone, state).
    pub roots: Vec<usize>,
    pub nodes: Vec<TreeNode>,
}

impl ContextTree {
    pub fn pdf(&self, left: Option<usize>, phone: usize, right: Option<usize>, s: usize) -> usize {
        let ctx = [
            left.unwrap_or(self.num_phones),
            right.unwrap_or(self.num_phones),
        ];
        let mut n = self.roots[phone * self.states_per_phone + s];
        loop {
            match &self.nodes[n] {
                TreeNode::Leaf(p) => return *p,
                TreeNode::Split { pos, set, yes, no } => {
                    n = if set[ctx[*pos as usize]] { *yes } else { *no }
                }
            }
        }
    }
}
