//! A sweep's store of trained networks (`OUT/networks/<fingerprint>/`):
//! the finished checkpoints of each training job, keyed by the job's
//! fingerprint (everything that decides the weights: the training config
//! without its decoding settings, the architecture, tokens, training
//! utterances, seed, trainer revision and initial model). A pipeline that
//! differs from another only in how it decodes (char-ctc and char-ctc with
//! an external LM) has the same fingerprint, so its cell copies the
//! finished checkpoints into its own folder and the trainer resumes a run
//! that has already stopped: the network is trained once per sweep. Jobs
//! with one fingerprint take a file lock, so concurrent Slurm array tasks
//! wait for each other instead of training the same network twice.
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What a finished run leaves in its checkpoint folder and a resumption reads.
const CHECKPOINT_FILES: [&str; 4] = ["state.json", "last.ot", "last.adamw.ot", "best.ot"];

/// One training job's place in the store, held under its lock.
pub struct Slot {
    dir: PathBuf,
    _lock: File,
}

/// Take the job's slot (waiting while another process trains the same
/// network) and, when the store holds the finished network and `checkpoints`
/// holds nothing yet, copy it there. Returns the slot and whether it adopted.
pub fn adopt(store: &Path, fingerprint: &str, checkpoints: &Path) -> Result<(Slot, bool)> {
    std::fs::create_dir_all(store).map_err(|e| Error::io(store, e))?;
    let lock_path = store.join(format!("{fingerprint}.lock"));
    let lock = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
    lock.lock().map_err(|e| Error::io(&lock_path, e))?;
    let slot = Slot {
        dir: store.join(fingerprint),
        _lock: lock,
    };
    if checkpoints.join(CHECKPOINT_FILES[0]).exists()
        || !slot.dir.join(CHECKPOINT_FILES[0]).exists()
    {
        return Ok((slot, false));
    }
    std::fs::create_dir_all(checkpoints).map_err(|e| Error::io(checkpoints, e))?;
    // The state last: a folder with state.json is a whole checkpoint.
    for f in CHECKPOINT_FILES.iter().rev() {
        let (from, to) = (slot.dir.join(f), checkpoints.join(f));
        std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
    }
    Ok((slot, true))
}

impl Slot {
    /// Put a finished run's checkpoints in the store (once: a network
    /// already there is kept). Written to a temporary folder and renamed.
    pub fn publish(&self, checkpoints: &Path) -> Result<()> {
        if self.dir.exists() {
            return Ok(());
        }
        crate::atomic_file::create_dir_with(&self.dir, |tmp| {
            for f in CHECKPOINT_FILES {
                let from = checkpoints.join(f);
                std::fs::copy(&from, tmp.join(f)).map_err(|e| Error::io(&from, e))?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_network_is_adopted_once_and_never_over_a_cells_own() {
        let d = tempfile::tempdir().unwrap();
        let store = d.path().join("networks");
        let a = d.path().join("a/checkpoints");
        std::fs::create_dir_all(&a).unwrap();
        for f in CHECKPOINT_FILES {
            std::fs::write(a.join(f), f).unwrap();
        }
        let (slot, adopted) = adopt(&store, "fp", &a).unwrap();
        assert!(!adopted, "a cell with its own checkpoints keeps them");
        slot.publish(&a).unwrap();
        drop(slot);
        let b = d.path().join("b/checkpoints");
        let (_slot, adopted) = adopt(&store, "fp", &b).unwrap();
        assert!(adopted);
        for f in CHECKPOINT_FILES {
            assert_eq!(std::fs::read_to_string(b.join(f)).unwrap(), f);
        }
        let c = d.path().join("c/checkpoints");
        let (_slot, adopted) = adopt(&store, "other", &c).unwrap();
        assert!(!adopted, "another fingerprint finds nothing");
    }
}
