//! Writing a file so that a reader, or a run that dies half-way, sees the
//! old file or the whole new one, never a part. The contents go to a
//! uniquely named temporary file in the target's own folder (so that the
//! final rename stays on one file system and is atomic), which is then
//! renamed over the target. Unique names (from `tempfile`) matter on a
//! cluster: two Slurm tasks writing the same `results.csv` or manifest each
//! have their own temporary, so neither can rename the other's half-written
//! one into place. Every file the tool writes that another step reads back
//! (manifests, cache entries, checkpoints, cell results) goes through here.
use std::io::Write;
use std::path::Path;

use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// The temporary file for `path`, in its folder (created if missing), with
/// the permissions an ordinary file gets (tempfile's default is owner-only).
fn temporary_beside(path: &Path) -> Result<NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| format!(".{}.", n.to_string_lossy()))
        .unwrap_or_else(|| ".tmp.".into());
    let mut b = tempfile::Builder::new();
    b.prefix(&name).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The umask still applies, as for any newly created file.
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    b.tempfile_in(dir).map_err(|e| Error::io(dir, e))
}

fn persist(tmp: NamedTempFile, path: &Path) -> Result<()> {
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Write `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    write_with(path, |f| {
        f.write_all(bytes.as_ref()).map_err(|e| Error::io(path, e))
    })
}

/// Write `path` atomically through `fill`, which gets the open temporary
/// file (seekable, for formats such as WAV that patch their header).
pub fn write_with(path: &Path, fill: impl FnOnce(&mut std::fs::File) -> Result<()>) -> Result<()> {
    let mut tmp = temporary_beside(path)?;
    fill(tmp.as_file_mut())?;
    tmp.as_file_mut().flush().map_err(|e| Error::io(path, e))?;
    persist(tmp, path)
}

/// Write `path` atomically with a writer that only takes a path (libtorch's
/// `VarStore::save`): `save` writes the temporary's path, which then
/// replaces `path`.
pub fn write_via_path(path: &Path, save: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = temporary_beside(path)?;
    save(tmp.path())?;
    persist(tmp, path)
}

/// Put the folder `dir` in place atomically: `fill` populates a uniquely
/// named temporary folder beside it, which is then renamed to `dir`. Where
/// `dir` already exists (another process finished first) the rename fails
/// and the temporary is removed; the caller decides whether that is an
/// error (see `neural::network_store`).
pub fn create_dir_with(dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = match dir.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".publish.")
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    fill(tmp.path())?;
    std::fs::rename(tmp.path(), dir).map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writers_never_leave_a_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.csv");
        // Each writer writes one long line of its own letter; a reader must
        // only ever see one whole line of one letter.
        let len = 1 << 20;
        std::thread::scope(|s| {
            for letter in [b'a', b'b', b'c', b'd'] {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..20 {
                        write(path, vec![letter; len]).unwrap();
                    }
                });
            }
            s.spawn(|| {
                let mut seen = 0;
                while seen < 200 {
                    if let Ok(b) = std::fs::read(&path) {
                        assert_eq!(b.len(), len, "a partial file was visible");
                        assert!(b.iter().all(|&c| c == b[0]), "two writers' bytes mixed");
                        seen += 1;
                    }
                }
            });
        });
        // No temporaries are left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("results.csv")]);
    }

    #[test]
    fn a_failed_fill_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.tsv");
        write(&path, "old").unwrap();
        let r = write_with(&path, |f| {
            f.write_all(b"half").unwrap();
            Err(Error::Invalid("stopped".into()))
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn written_files_get_the_permissions_of_an_ordinarily_created_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (atomic, plain) = (dir.path().join("a.json"), dir.path().join("b.json"));
        write(&atomic, "{}").unwrap();
        std::fs::write(&plain, "{}").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
        assert_eq!(mode(&atomic), mode(&plain));
    }

    #[test]
    fn a_folder_is_published_whole_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("net");
        create_dir_with(&target, |d| write(&d.join("model.ot"), "weights")).unwrap();
        assert_eq!(
            std::fs::read_to_string(target.join("model.ot")).unwrap(),
            "weights"
        );
        let second = create_dir_with(&target, |d| write(&d.join("model.ot"), "other"));
        assert!(second.is_err());
        assert_eq!(
            std::fs::read_to_string(target.join("model.ot")).unwrap(),
            "weights"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
