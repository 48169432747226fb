//! What the process's allocator keeps: glibc's, set once at start and asked to
//! give back free memory before work that takes a large block at once.
//!
//! The system allocator stays. mimalloc, tried in bench/run, raised the peak
//! resident memory under load from about 0.3 GiB to 1.1 GiB (a heap kept per
//! thread of the blocking pool), against a target of 100 MB.

/// Large allocations go straight to the kernel and back when freed. glibc
/// otherwise raises its mmap threshold after the first large free, up to
/// 32 MiB, and keeps later blocks of that size in the freeing thread's arena:
/// each password hash (argon2's 19 MiB then) stayed resident once per blocking
/// thread that ever ran one, 300 MB after a dozen sign-ins. Fixing the
/// threshold keeps that memory returned; allocations below it are untouched.
///
/// Arenas are bounded to two per core, unless `MALLOC_ARENA_MAX` says
/// otherwise: glibc gives every thread that allocates an arena of its own, up
/// to eight per core, and each keeps what its requests freed. With ping
/// batches on 32 connections the peak grew by 11 MiB against 3 MiB at two per
/// core, for 3% fewer requests per second.
///
/// Call first thing in `main`, before any other thread exists.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn bound_what_the_allocator_keeps() {
    const THRESHOLD_BYTES: libc::c_int = 1024 * 1024;
    let arenas = std::thread::available_parallelism()
        .map_or(2, |cores| 2 * cores.get())
        .try_into()
        .unwrap_or(libc::c_int::MAX);
    let arenas_chosen = std::env::var_os("MALLOC_ARENA_MAX").is_some();
    // SAFETY: mallopt only sets allocator parameters; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD_BYTES);
        if !arenas_chosen {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn bound_what_the_allocator_keeps() {}

/// Gives the whole pages that every arena holds free back to the kernel.
///
/// What requests free stays with the allocator for later ones, and after a
/// load that memory is resident but unused (20 MiB of the server's after the
/// benchmark's ping batches). A password check then takes its 12 MiB on top of
/// it, and that sum was the process's peak. Called before each password check,
/// the block comes on top of what is in use instead: the benchmark's SQLite
/// peak fell from 98.4 to 83.0 MiB (BENCHMARKS.md at 93dd295). The check
/// itself takes tens of milliseconds, the trim 0.05 to 2 ms there.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn give_back_free_memory() {
    // SAFETY: malloc_trim only returns free pages; it takes each arena's lock
    // as malloc and free do, so it is safe beside other threads.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn give_back_free_memory() {}
