//! What the generated attack tests share (here and in the crates above): a small seedable random
//! source and the run's size, both from the environment so a failure can be replayed.

/// A xorshift64* generator: small, seedable, no dependency. Not for anything but tests.
pub struct FuzzRng(u64);

impl FuzzRng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// A run's generator and size: `KEEL_FUZZ_ITERATIONS` (else `default_iterations`, the CI size)
/// and `KEEL_FUZZ_SEED` (else from the clock). The seed is printed, to replay a failure.
pub fn fuzz_run(default_iterations: usize) -> (FuzzRng, usize) {
    let iterations = std::env::var("KEEL_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_iterations);
    let seed: u64 = std::env::var("KEEL_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
        | 1;
    eprintln!("KEEL_FUZZ_SEED={seed} KEEL_FUZZ_ITERATIONS={iterations}");
    (FuzzRng(seed), iterations)
}

/// Every file below `dir`, for checking that nothing appeared where it should not.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}
