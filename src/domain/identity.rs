//! Who is asking. Sign-up, sign-in and tokens: opaque random bearer tokens of which only a
//! SHA-256 hash is stored, and Argon2id password hashes computed on the blocking pool so a
//! burst of logins cannot stall the async runtime.

use std::sync::Arc;

use base64::Engine;

use rand::RngCore;
use sha2::{Digest, Sha256};

use super::clock::{SharedClock, SystemClock};
use super::error::{DomainError, DomainResult};
use super::hashing::{HashSettings, HashStats, Hasher};
use super::model::{Revocation, Timestamp, User};
use super::ports::{Bus, Store};
use super::recent::{Forget, Recent};
use super::session::{SessionPolicy, SessionTimes, Verdict};
use super::throttle::Throttles;
use super::values::{sha256_from_hex, Password, UserId, Username};
use std::net::IpAddr;

/// The caller of an operation, as established by the transport from its token.
#[derive(Debug, Clone, Default)]
pub enum Viewer {
    #[default]
    Anonymous,
    User(User),
}

impl Viewer {
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Viewer::Anonymous => None,
            Viewer::User(u) => Some(u.id),
        }
    }

    pub fn require(&self) -> DomainResult<&User> {
        match self {
            Viewer::Anonymous => Err(DomainError::unauthenticated()),
            Viewer::User(u) => Ok(u),
        }
    }
}

/// The SHA-256 of a token: what the store and the session cache know it by.
type TokenHash = [u8; 32];

/// Sessions this node keeps in memory (see `recent`); beyond it the cache starts over.
const CACHED_SESSIONS: usize = 65_536;

/// A revocation names its session by the hex of its hash.
fn revoked_session(revocation: &Arc<Revocation>) -> Forget<TokenHash> {
    match &**revocation {
        Revocation::Session { token_hash } => match sha256_from_hex(token_hash) {
            Some(hash) => Forget::One(hash),
            None => Forget::All,
        },
    }
}

/// A bearer token as the client holds it. Only `hash()` is ever stored.
pub struct Token(String);

impl Token {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn from_client(raw: &str) -> Self {
        Self(raw.trim().to_owned())
    }

    pub fn hash(&self) -> Vec<u8> {
        self.digest().to_vec()
    }

    fn digest(&self) -> TokenHash {
        Sha256::digest(self.0.as_bytes()).into()
    }

    /// The hash in hex: how a revocation names the session to every node.
    pub fn hash_hex(&self) -> String {
        self.hash().iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A token that checked out.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    /// When the session ends if it is not used again; `None`: never.
    pub expires_at: Option<Timestamp>,
}

#[derive(Clone)]
pub struct Identity {
    store: Arc<dyn Store>,
    /// Where revocations go, so sockets opened with a revoked token close on every node.
    bus: Arc<dyn Bus>,
    hasher: Hasher,
    throttles: Arc<Throttles>,
    sessions: SessionPolicy,
    clock: SharedClock,
    /// Verified against when the username does not exist, so a wrong username and a wrong
    /// password take the same time.
    decoy_hash: Arc<str>,
    /// Sessions read from the store, forgotten when a revocation names them.
    cached: Arc<Recent<TokenHash, (User, SessionTimes), Arc<Revocation>>>,
}

impl Identity {
    /// Identity with the default hashing budget and no flood limits (domain-level use).
    pub async fn new(store: Arc<dyn Store>, bus: Arc<dyn Bus>) -> DomainResult<Self> {
        Self::build(
            store,
            bus,
            HashSettings::default(),
            Arc::new(Throttles::unlimited()),
        )
        .await
    }

    pub async fn build(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        settings: HashSettings,
        throttles: Arc<Throttles>,
    ) -> DomainResult<Self> {
        let hasher = Hasher::start(settings);
        let decoy = hasher.hash("decoy password, never matches").await?;
        let news = bus.clone();
        let cached = Recent::new(
            move || news.subscribe_revocations(),
            revoked_session,
            CACHED_SESSIONS,
        );
        Ok(Self {
            store,
            bus,
            cached: Arc::new(cached),
            hasher,
            throttles,
            sessions: SessionPolicy::default(),
            clock: Arc::new(SystemClock),
            decoy_hash: decoy.into(),
        })
    }

    /// Session lifetimes other than the default 30 days idle, 90 days in all.
    pub fn with_session_policy(mut self, policy: SessionPolicy) -> Self {
        self.sessions = policy;
        self
    }

    /// The clock session lifetimes are measured with (a manual one in tests).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn session_policy(&self) -> SessionPolicy {
        self.sessions
    }

    pub fn clock(&self) -> SharedClock {
        self.clock.clone()
    }

    /// Counters of the password hashing threads.
    pub fn hash_stats(&self) -> Arc<HashStats> {
        self.hasher.stats()
    }

    pub async fn register(
        &self,
        client: Option<IpAddr>,
        username: Username,
        password: Password,
    ) -> DomainResult<(Token, User)> {
        if let Some(ip) = client {
            self.throttles
                .registrations
                .check(&ip, "registrations from your address")?;
        }
        // A taken name costs no hash. (The insert still enforces uniqueness if two
        // registrations race.)
        if self
            .store
            .user_by_username(username.as_str())
            .await?
            .is_some()
        {
            return Err(DomainError::username_taken());
        }
        let hash = self.hasher.hash(password.expose()).await?;
        let user = User {
            id: UserId::new(),
            username: username.as_str().to_owned(),
            created_at: self.clock.now(),
        };
        self.store.create_user(&user, &hash).await?;
        let token = self.open_session(&user).await?;
        Ok((token, user))
    }

    pub async fn login(
        &self,
        client: Option<IpAddr>,
        username: &str,
        password: &str,
    ) -> DomainResult<(Token, User)> {
        let wrong = || DomainError::Unauthenticated("wrong username or password".into());
        // Over-long input cannot match a stored user; refuse before any hashing work.
        if username.len() > 64 || password.len() > 512 {
            return Err(wrong());
        }
        // Throttled before any lookup or hashing, for unknown accounts too (so the answer
        // does not tell which usernames exist).
        if let Some(ip) = client {
            self.throttles
                .logins_by_address
                .check(&ip, "sign-in attempts from your address")?;
        }
        self.throttles.logins_by_account.check(
            &username.to_lowercase(),
            "sign-in attempts for this account",
        )?;
        let found = self.store.user_credentials(username).await?;
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), hash),
            None => (None, self.decoy_hash.to_string()),
        };
        let ok = self.hasher.verify(password, &hash).await?;
        match (user, ok) {
            (Some(user), true) => {
                let token = self.open_session(&user).await?;
                Ok((token, user))
            }
            _ => Err(wrong()),
        }
    }

    async fn open_session(&self, user: &User) -> DomainResult<Token> {
        let token = Token::generate();
        self.store
            .create_session(&token.hash(), user.id, self.clock.now())
            .await?;
        Ok(token)
    }

    /// The user a token belongs to, and until when the session lasts unless used again.
    /// An unknown, revoked or expired token is an error, never anonymous. Counts as a use
    /// of the session (written at most once per `SessionPolicy::touch_every`).
    pub async fn authenticate(&self, token: &Token) -> DomainResult<Authenticated> {
        let hash = token.digest();
        let now = self.clock.now();
        // A kept session that looks expired is read again: another node may have recorded
        // a later use.
        let ticket = match self.cached.get(&hash) {
            Err(ticket) => Some(ticket),
            Ok((user, times)) => {
                if let Verdict::Live { touch, expires_at } = self.sessions.judge(times, now) {
                    if touch {
                        self.touch(hash, now).await?;
                    }
                    return Ok(Authenticated { user, expires_at });
                }
                self.cached.forget(&hash);
                self.cached.get(&hash).err()
            }
        };
        let Some((user, times)) = self.store.session(&hash).await? else {
            return Err(DomainError::Unauthenticated(
                "invalid or revoked token".into(),
            ));
        };
        match self.sessions.judge(times, now) {
            Verdict::Expired => Err(DomainError::Unauthenticated(
                "the session has expired: sign in again".into(),
            )),
            Verdict::Live { touch, expires_at } => {
                if touch {
                    self.touch(hash, now).await?;
                } else if let Some(ticket) = ticket {
                    self.cached.keep(hash, (user.clone(), times), ticket);
                }
                Ok(Authenticated { user, expires_at })
            }
        }
    }

    /// Records a use of the session. What was kept of it is forgotten, so the next request
    /// reads the recorded use back (this happens at most once per `touch_every`).
    async fn touch(&self, hash: TokenHash, now: Timestamp) -> DomainResult<()> {
        self.store.touch_session(&hash, now).await?;
        self.cached.forget(&hash);
        Ok(())
    }

    /// Revokes the session, then tells every node so sockets opened with it close.
    pub async fn logout(&self, token: &Token) -> DomainResult<()> {
        self.store
            .revoke_session(&token.hash(), self.clock.now())
            .await?;
        self.cached.forget(&token.digest());
        self.bus.publish_revocation(Arc::new(Revocation::Session {
            token_hash: token.hash_hex(),
        }));
        Ok(())
    }

    /// Revocations from every node (see `Bus::subscribe_revocations`).
    pub fn revocations(&self) -> tokio::sync::broadcast::Receiver<Arc<Revocation>> {
        self.bus.subscribe_revocations()
    }
}
