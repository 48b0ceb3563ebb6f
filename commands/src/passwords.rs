//! Password hashing with argon2id, bounded in memory and in waiting.
//!
//! Each argon2id operation needs `m_cost` KiB of working memory (19 MiB at OWASP's recommended
//! m = 19456 KiB, t = 2, p = 1, which are argon2's defaults and Moim's). Left unbounded, a flood of
//! logins runs one such operation per request on the blocking pool and takes the process to
//! gigabytes that the allocator then keeps. Here at most `concurrency` operations run at once, each
//! in a working buffer taken from a pool of at most `concurrency` buffers that are reused forever,
//! so hashing never holds more than `concurrency × m_cost` whatever arrives. A request waits for a
//! slot at most `wait`, behind at most `queue` others; past either it is refused at once with
//! [`CommandError::Overloaded`] (503 with `Retry-After`), never queued without bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use crate::CommandError;

/// How much password hashing may run and wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordLimits {
    /// Operations at once (each holds `m_cost` of memory).
    pub concurrency: usize,
    /// Requests waiting for a slot at most; more are refused at once.
    pub queue: usize,
    /// The longest a request waits for a slot.
    pub wait: Duration,
}

impl Default for PasswordLimits {
    fn default() -> Self {
        Self {
            concurrency: std::thread::available_parallelism().map_or(1, |n| n.get()),
            queue: 32,
            wait: Duration::from_secs(2),
        }
    }
}

/// The bounded hasher. Cheap to share.
pub(crate) struct Passwords {
    limits: PasswordLimits,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    dummy: String,
}

/// Counts a request as waiting for as long as it lives, including when its future is dropped
/// mid-wait (a client that hangs up), so the count never leaks.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Passwords {
    /// Computes the dummy hash once, here (start-up, one argon2 operation), so that the first
    /// login of an unknown e-mail costs what every other login costs.
    pub(crate) fn new(limits: PasswordLimits) -> Self {
        let limits = PasswordLimits {
            concurrency: limits.concurrency.max(1),
            ..limits
        };
        let mut blocks = Vec::new();
        let dummy = hash("not the password of anyone", &mut blocks).unwrap_or_default();
        Self {
            limits,
            slots: Arc::new(Semaphore::new(limits.concurrency)),
            waiting: AtomicUsize::new(0),
            buffers: Arc::new(Mutex::new(vec![blocks])),
            dummy,
        }
    }

    /// The same hasher (its dummy hash and its working buffers) under other limits: nothing is
    /// hashed again, and no 19 MiB buffer is freed only to be made again.
    pub(crate) fn limited(&self, limits: PasswordLimits) -> Self {
        let limits = PasswordLimits {
            concurrency: limits.concurrency.max(1),
            ..limits
        };
        Self {
            limits,
            slots: Arc::new(Semaphore::new(limits.concurrency)),
            waiting: AtomicUsize::new(0),
            buffers: self.buffers.clone(),
            dummy: self.dummy.clone(),
        }
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) for a new password.
    pub(crate) async fn hash(&self, password: String) -> Result<String, CommandError> {
        self.run(move |blocks| hash(&password, blocks)).await?
    }

    /// Whether `password` matches the stored PHC string, in constant time.
    pub(crate) async fn verify(
        &self,
        password: String,
        stored: String,
    ) -> Result<bool, CommandError> {
        self.run(move |blocks| verify(&password, &stored, blocks))
            .await
    }

    /// A hash of nobody's password, verified against when an e-mail is unknown so both answers
    /// cost the same.
    pub(crate) fn dummy(&self) -> String {
        self.dummy.clone()
    }

    /// Runs `work` on the blocking pool once a slot is free, with a reused working buffer.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, CommandError> {
        let overloaded = || CommandError::Overloaded {
            retry_after_secs: 1,
        };
        let waiting = Waiting(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.limits.queue {
            return Err(overloaded());
        }
        let slot = tokio::time::timeout(self.limits.wait, self.slots.clone().acquire_owned()).await;
        drop(waiting);
        let slot = match slot {
            Ok(Ok(slot)) => slot,
            _ => return Err(overloaded()),
        };
        let buffers = self.buffers.clone();
        tokio::task::spawn_blocking(move || {
            let mut blocks = buffers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .unwrap_or_default();
            let done = work(&mut blocks);
            // At most `concurrency` buffers exist: one per slot, returned before the slot is.
            buffers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(blocks);
            drop(slot);
            done
        })
        .await
        .map_err(CommandError::Worker)
    }
}

fn argon2(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The first `count` blocks of the buffer, growing it once to the size the parameters need.
fn memory(blocks: &mut Vec<Block>, count: usize) -> &mut [Block] {
    if blocks.len() < count {
        blocks.resize(count, Block::default());
    }
    &mut blocks[..count]
}

fn hash(password: &str, blocks: &mut Vec<Block>) -> Result<String, CommandError> {
    let params = Params::default();
    let salt = SaltString::generate(&mut OsRng);
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut raw_salt)
        .map_err(CommandError::Hashing)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2(params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            raw_salt,
            &mut out,
            memory(blocks, params.block_count()),
        )
        .map_err(|e| CommandError::Hashing(e.into()))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(CommandError::Hashing)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(CommandError::Hashing)?),
    };
    Ok(phc.to_string())
}

fn verify(password: &str, stored: &str, blocks: &mut Vec<Block>) -> bool {
    let Ok(phc) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(params), Some(salt), Some(expected)) = (Params::try_from(&phc), phc.salt, phc.hash)
    else {
        return false;
    };
    // Only what Moim writes: argon2id v19 at no more memory than the pool's buffers are for.
    if phc.algorithm != argon2::ARGON2ID_IDENT
        || phc.version.is_some_and(|v| v != u32::from(Version::V0x13))
        || params.m_cost() > Params::DEFAULT_M_COST
    {
        return false;
    }
    let mut raw_salt = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut raw_salt) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let count = params.block_count();
    let hashed = argon2(params).hash_password_into_with_memory(
        password.as_bytes(),
        raw_salt,
        &mut out,
        memory(blocks, count),
    );
    // `Output`'s equality is constant-time.
    hashed.is_ok() && Output::new(&out).is_ok_and(|out| out == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_at_owasp_parameters_and_verify() {
        let mut blocks = Vec::new();
        let phc = hash("correct horse", &mut blocks).unwrap_or_default();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse", &phc, &mut blocks));
        assert!(!verify("wrong horse", &phc, &mut blocks));
        assert!(!verify("correct horse", "not a hash", &mut blocks));
        // The crate's own verifier agrees, so stored hashes stay portable.
        let parsed = PasswordHash::new(&phc).ok();
        assert!(
            parsed.is_some_and(|p| argon2::PasswordVerifier::verify_password(
                &Argon2::default(),
                b"correct horse",
                &p
            )
            .is_ok())
        );
    }

    #[tokio::test]
    async fn past_the_queue_a_request_is_refused_at_once() {
        let passwords = Arc::new(Passwords::new(PasswordLimits {
            concurrency: 1,
            queue: 1,
            wait: Duration::from_secs(30),
        }));
        let held = passwords.slots.clone().acquire_owned().await.ok();
        let first = tokio::spawn({
            let passwords = passwords.clone();
            async move { passwords.hash("correct horse".into()).await }
        });
        while passwords.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        let second = passwords.hash("correct horse".into()).await;
        assert!(matches!(second, Err(CommandError::Overloaded { .. })));
        // A waiter whose client hangs up (its future dropped) leaves the queue as it found it.
        first.abort();
        let _ = first.await;
        assert_eq!(passwords.waiting.load(Ordering::Acquire), 0);
        let third = tokio::spawn({
            let passwords = passwords.clone();
            async move { passwords.hash("correct horse".into()).await }
        });
        while passwords.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        drop(held);
        assert!(third.await.is_ok_and(|r| r.is_ok()));
    }
}
