//! The process's worker threads. `--threads N` means one rayon pool of N
//! threads that every parallel stage runs on (feature extraction, the
//! classical trainer's accumulation passes, decoding, corpus synthesis),
//! built the first time it is asked for and kept for the life of the
//! process: a sweep asks for it thousands of times, and building a pool per
//! call spawned and joined N threads each time. (Library callers that ask
//! for different sizes, as the tests do, get one pool per size.)
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};

static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();

/// The pool of `threads` threads (at least one).
pub fn pool(threads: usize) -> Result<Arc<rayon::ThreadPool>> {
    let threads = threads.max(1);
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(p) = pools.get(&threads) {
        return Ok(p.clone());
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(move |i| format!("crossover-{threads}-{i}"))
            .build()
            .map_err(|e| Error::Invalid(format!("thread pool of {threads}: {e}")))?,
    );
    pools.insert(threads, p.clone());
    Ok(p)
}

/// Run `f` on the pool of `threads` threads.
pub fn install<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> Result<T> {
    Ok(pool(threads)?.install(f))
}

/// The machine's available parallelism (the default where `--threads` is
/// optional).
pub fn available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pool_per_size_is_built_once_and_reused() {
        let a = pool(3).unwrap();
        let b = pool(3).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(install(3, rayon::current_num_threads).unwrap(), 3);
        assert_eq!(install(0, rayon::current_num_threads).unwrap(), 1);
        assert!(!Arc::ptr_eq(&a, &pool(2).unwrap()));
    }
}
