//! Password hashing with a fixed budget: a few dedicated threads, each with one reusable
//! Argon2id memory area, behind a bounded queue.
//!
//! Argon2id is memory-hard by design (19 MiB per hash here), so hashing on demand lets a
//! burst of anonymous logins allocate gigabytes. Here at most `workers` hashes run at once,
//! each in memory its thread allocated once and keeps; at most `queue` more wait; anything
//! beyond is refused at once with `DomainError::Overloaded`, which clients see as
//! SERVICE_UNAVAILABLE. Memory for hashing is therefore `workers x 19 MiB`, whatever the
//! load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use super::error::{DomainError, DomainResult};

/// How much hashing the server does at once.
#[derive(Debug, Clone, Copy)]
pub struct HashSettings {
    /// Hashes computed at the same time (threads; each holds one 19 MiB memory area).
    pub workers: usize,
    /// Hashes allowed to wait for a thread; more are refused with SERVICE_UNAVAILABLE.
    pub queue: usize,
}

impl Default for HashSettings {
    fn default() -> Self {
        Self {
            workers: 2,
            queue: 64,
        }
    }
}

/// Counters for tests and metrics.
#[derive(Debug, Default)]
pub struct HashStats {
    /// Hashes computed (new passwords and verifications).
    pub computed: AtomicU64,
    /// Requests refused because the queue was full.
    pub refused: AtomicU64,
    /// Hashes waiting or running right now.
    pub pending: AtomicU64,
    /// The most hashes that ever ran at the same moment.
    pub peak_running: AtomicU64,
    running: AtomicU64,
}

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<DomainResult<String>>,
    },
    Verify {
        password: String,
        phc: String,
        reply: oneshot::Sender<bool>,
    },
}

/// The parameters new hashes use (OWASP's Argon2id baseline: 19 MiB, 2 passes, 1 lane).
fn params() -> Params {
    Params::new(Params::DEFAULT_M_COST, Params::DEFAULT_T_COST, 1, None).unwrap_or_default()
}

/// A thread's memory area, grown (once) to what a hash's parameters need.
fn blocks_for(memory: &mut Vec<Block>, params: &Params) {
    let needed = params.block_count();
    if memory.len() != needed {
        memory.clear();
        memory.shrink_to_fit();
        memory.resize(needed, Block::default());
    }
}

/// Hashes `password` with a fresh salt into a PHC string, using `memory` as Argon2's state.
pub fn hash_with(memory: &mut Vec<Block>, password: &str) -> DomainResult<String> {
    let fail = |e: &dyn std::fmt::Display| {
        DomainError::Internal(anyhow::anyhow!("hashing a password: {e}"))
    };
    let params = params();
    blocks_for(memory, &params);
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(|e| fail(&e))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt_bytes, out, &mut memory[..])
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .map_err(|e| fail(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| fail(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `phc`, computed in `memory`. Stored hashes with
/// other Argon2 parameters verify too (the area is resized for them).
pub fn verify_with(memory: &mut Vec<Block>, password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    // A stored hash asking for absurd memory is not ours; refuse rather than allocate.
    if params.m_cost() > 4 * Params::DEFAULT_M_COST {
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    blocks_for(memory, &params);
    let argon = Argon2::new(algorithm, version, params);
    let computed = Output::init_with(expected.len(), |out| {
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt_bytes, out, &mut memory[..])
            .map_err(|_| argon2::password_hash::Error::Crypto)
    });
    // `Output`'s equality is constant-time.
    computed.is_ok_and(|c| c == expected)
}

/// The hashing threads and their queue. Cheap to clone.
#[derive(Clone)]
pub struct Hasher {
    jobs: SyncSender<Job>,
    stats: Arc<HashStats>,
}

impl Hasher {
    pub fn start(settings: HashSettings) -> Self {
        let (jobs, queue) = sync_channel::<Job>(settings.queue.max(1));
        let queue = Arc::new(Mutex::new(queue));
        let stats = Arc::new(HashStats::default());
        for n in 0..settings.workers.max(1) {
            let (queue, stats) = (queue.clone(), stats.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("roomcast-hash-{n}"))
                .spawn(move || work(&queue, &stats));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Self { jobs, stats }
    }

    pub fn stats(&self) -> Arc<HashStats> {
        self.stats.clone()
    }

    fn submit(&self, job: Job) -> DomainResult<()> {
        self.stats.pending.fetch_add(1, Ordering::Relaxed);
        match self.jobs.try_send(job) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.stats.pending.fetch_sub(1, Ordering::Relaxed);
                if matches!(e, TrySendError::Full(_)) {
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                }
                Err(DomainError::Overloaded(
                    "too many sign-ins at once; try again in a moment".into(),
                ))
            }
        }
    }

    pub async fn hash(&self, password: &str) -> DomainResult<String> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Hash {
            password: password.to_owned(),
            reply,
        })?;
        answer.await.map_err(|_| gone())?
    }

    pub async fn verify(&self, password: &str, phc: &str) -> DomainResult<bool> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Verify {
            password: password.to_owned(),
            phc: phc.to_owned(),
            reply,
        })?;
        answer.await.map_err(|_| gone())
    }
}

fn gone() -> DomainError {
    DomainError::Internal(anyhow::anyhow!("the password hashing thread went away"))
}

/// One hashing thread: takes jobs until every `Hasher` handle is dropped.
fn work(queue: &Mutex<Receiver<Job>>, stats: &HashStats) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let Ok(queue) = queue.lock() else { return };
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let running = stats.running.fetch_add(1, Ordering::Relaxed) + 1;
        stats.peak_running.fetch_max(running, Ordering::Relaxed);
        match job {
            Job::Hash { password, reply } => {
                let _ = reply.send(hash_with(&mut memory, &password));
            }
            Job::Verify {
                password,
                phc,
                reply,
            } => {
                let _ = reply.send(verify_with(&mut memory, &password, &phc));
            }
        }
        stats.running.fetch_sub(1, Ordering::Relaxed);
        stats.pending.fetch_sub(1, Ordering::Relaxed);
        stats.computed.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_wrong_passwords_do_not() {
        let mut memory = Vec::new();
        let phc = hash_with(&mut memory, "correct horse").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_with(&mut memory, "correct horse", &phc));
        assert!(!verify_with(&mut memory, "wrong horse", &phc));
        assert!(!verify_with(&mut memory, "correct horse", "not a hash"));
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_defaults_still_verify() {
        use argon2::password_hash::PasswordHasher;
        let salt = SaltString::generate(&mut OsRng);
        let phc = Argon2::default()
            .hash_password(b"an older password", &salt)
            .expect("hash")
            .to_string();
        let mut memory = Vec::new();
        assert!(verify_with(&mut memory, "an older password", &phc));
        assert!(!verify_with(&mut memory, "another", &phc));
    }
}
