//! The `Store` methods, written once for both dialects.

/// `impl Store for $store`. The backend provides what differs: its `Dialect`'s words, the
/// fields holding its pools (`reader`, `writer`; reads of what a call just wrote go to the
/// writer, the one place SQLite is sure to see them), and `store_message` (SQLite commits
/// messages in groups; PostgreSQL in one statement each).
macro_rules! store_impl {
    ($store:ty => $db:ty, reader: $reader:ident, writer: $writer:ident) => {
        const _: () = {
            // Some of these serve only the backend's own methods.
            #[allow(unused_imports)]
            use $crate::domain::model::{
                Ban, Invite, JoinRequest, Membership, Message, ModerationAction, ModerationEntry,
                Report, ReportStatus, Role, Room, RoomAccess, RoomType, Timestamp, UpdateRoom, User,
            };
            #[allow(unused_imports)]
            use $crate::domain::ports::{
                Audit, BanOutcome, CatchUp, Conflict, DecidedReport, Entity, History, Mute, NewBan,
                NewInvite, NewJoinRequest, NewMember, NewMessage, NewReport, NewRoom, RecordPage,
                ReportDecision, RoomQuery, StoreError, StoreResult, TimedBan, TimedMute, ReadState,
            };
            use $crate::domain::session::SessionTimes;
            use $crate::domain::terms::BlockedTerms;
            use $crate::domain::values::{
                EntryId, InviteCode, MaxUsers, MessageId, Note, ReportId, RoomId, RoomName, Topic, UserId,
            };
            #[allow(unused_imports)]
            use $crate::store::sql::{
                access_from, ban_from, conflict_as, db_err, entry_from, invite_from, map_rows,
                member_from, message_from, report_from, request_from, room_from, terms_json,
                user_from, DbId, DbTime, SqlRow, ACCESS_COLUMNS, ACCESS_JOINS, BAN_SELECT,
                ENTRY_SELECT, INVITE_SELECT, MEMBER_SELECT, MESSAGE_SELECT, REPORT_SELECT,
                REQUEST_SELECT, ROOM_COLUMNS, ROOM_FROM, Dialect,
            };

            type Conn = <$db as sqlx::Database>::Connection;
            type Row = <$db as sqlx::Database>::Row;
            type Query<'q> = sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>;
            type Decode<T> = fn(&Row) -> Result<T, sqlx::Error>;

            /// How far a message's time may trail the time of the one stored after it (a
            /// message waits for its store call at most the pools' acquire timeouts).
            const PURGE_SLACK: chrono::Duration = chrono::Duration::minutes(5);

            /// `sql` with `id` as `$1`.
            fn by_id(sql: &str, id: uuid::Uuid) -> Query<'_> {
                sqlx::query(sql).bind(DbId(id))
            }

            /// `sql` with `room` as `$1` and `user` as `$2`.
            fn by_pair(sql: &str, room: RoomId, user: UserId) -> Query<'_> {
                sqlx::query(sql).bind(DbId(room.0)).bind(DbId(user.0))
            }

            /// The row `q` finds on `exec`, if any, decoded.
            async fn optional<'q, T>(q: Query<'q>, exec: impl sqlx::Executor<'q, Database = $db> + 'q, decode: Decode<T>) -> StoreResult<Option<T>> {
                let row = q.fetch_optional(exec).await.map_err(db_err)?;
                row.as_ref().map(decode).transpose().map_err(db_err)
            }

            /// Every row `q` finds on `exec`, decoded.
            async fn all<'q, T>(q: Query<'q>, exec: impl sqlx::Executor<'q, Database = $db> + 'q, decode: Decode<T>) -> StoreResult<Vec<T>> {
                map_rows(q.fetch_all(exec).await.map_err(db_err)?, decode)
            }

            /// Runs `q` on `exec`; whether it changed a row.
            async fn changed<'q>(q: Query<'q>, exec: impl sqlx::Executor<'q, Database = $db> + 'q) -> StoreResult<bool> {
                Ok(q.execute(exec).await.map_err(db_err)?.rows_affected() > 0)
            }

            /// `found`, or NotFound(`entity`).
            fn required<T>(found: Option<T>, entity: Entity) -> StoreResult<T> {
                found.ok_or(StoreError::NotFound(entity))
            }

            impl $store {
                fn reader(&self) -> &sqlx::Pool<$db> {
                    &self.$reader
                }

                fn writer(&self) -> &sqlx::Pool<$db> {
                    &self.$writer
                }

                /// The room as the writer sees it (after a write of this call).
                async fn written_room(&self, id: RoomId) -> StoreResult<Room> {
                    let sql = format!("{ROOM_COLUMNS} {ROOM_FROM} WHERE r.id = $1");
                    required(optional(by_id(&sql, id.0), self.writer(), room_from).await?, Entity::Room)
                }

                /// The membership as `conn` sees it.
                async fn membership_on(conn: &mut Conn, room: RoomId, user: UserId) -> StoreResult<Option<Membership>> {
                    let sql = format!("{MEMBER_SELECT} WHERE m.room_id = $1 AND m.user_id = $2");
                    optional(by_pair(&sql, room, user), conn, member_from).await
                }

                /// The membership as the writer sees it (after a write of this call).
                async fn written_membership(&self, room: RoomId, user: UserId) -> StoreResult<Membership> {
                    let mut conn = self.writer().acquire().await.map_err(db_err)?;
                    required(Self::membership_on(&mut conn, room, user).await?, Entity::Membership)
                }

                /// Holds the room's row until the end of the transaction: joins, bans, join
                /// requests and ownership transfers in one room run one after another.
                async fn lock_room(conn: &mut Conn, room: RoomId) -> StoreResult<()> {
                    let sql = format!("SELECT 1 FROM rooms WHERE id = $1{}", <$store as Dialect>::LOCK_ROOM);
                    required(optional(by_id(&sql, room.0), conn, |_| Ok(())).await?, Entity::Room)
                }

                /// A transaction holding `room` (see `lock_room`) in which `user` is not
                /// banned at `at`. Defence in depth: `authorize` refuses a banned user, but a
                /// ban that committed after that check still wins here. A timed ban whose
                /// time is up is cleared here (banned XOR member holds in storage too).
                async fn begin_unbanned(&self, room: RoomId, user: UserId, at: Timestamp) -> StoreResult<sqlx::Transaction<'static, $db>> {
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    Self::lock_room(&mut tx, room).await?;
                    let sql = "DELETE FROM bans WHERE room_id = $1 AND user_id = $2 AND expires_at <= $3";
                    changed(by_pair(sql, room, user).bind(DbTime(at)), &mut *tx).await?;
                    let sql = "SELECT 1 FROM bans WHERE room_id = $1 AND user_id = $2";
                    match optional(by_pair(sql, room, user), &mut *tx, |_| Ok(())).await? {
                        Some(()) => Err(StoreError::Banned),
                        None => Ok(tx),
                    }
                }

                /// Deletes `user`'s row in `table` (a fixed table name) for `room`.
                async fn delete_pair(conn: &mut Conn, table: &str, room: RoomId, user: UserId) -> StoreResult<bool> {
                    let sql = format!("DELETE FROM {table} WHERE room_id = $1 AND user_id = $2");
                    changed(by_pair(&sql, room, user), conn).await
                }

                /// `table`'s rows (a `*_SELECT` whose table is `alias`) in `room`, oldest first.
                async fn in_room<T>(&self, select: &str, alias: &str, room: RoomId, decode: Decode<T>) -> StoreResult<Vec<T>> {
                    let sql = format!("{select} WHERE {alias}.room_id = $1 ORDER BY {alias}.created_at");
                    all(by_id(&sql, room.0), self.reader(), decode).await
                }

                /// Writes `audit` to the room's moderation log on `conn` (inside the
                /// transaction of the action it records).
                async fn record(conn: &mut Conn, audit: &Audit) -> StoreResult<()> {
                    let sql = "INSERT INTO moderation_log (id, room_id, action, actor_id, target_id, reason, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)";
                    let q = by_id(sql, EntryId::new().0)
                        .bind(DbId(audit.room.0))
                        .bind(audit.action.as_str())
                        .bind(DbId(audit.actor.0))
                        .bind(audit.target.map(|t| DbId(t.0)))
                        .bind(audit.reason.as_deref())
                        .bind(DbTime(audit.at));
                    changed(q, conn).await.map(drop)
                }

                /// Writes `audit`, if any, on `conn`.
                async fn record_opt(conn: &mut Conn, audit: Option<&Audit>) -> StoreResult<()> {
                    match audit {
                        Some(audit) => Self::record(conn, audit).await,
                        None => Ok(()),
                    }
                }

                /// Erases a message on `conn`; its author, when it existed.
                async fn erase_message(conn: &mut Conn, id: MessageId) -> StoreResult<Option<UserId>> {
                    let sql = "DELETE FROM messages WHERE id = $1 RETURNING author_id";
                    optional(by_id(sql, id.0), conn, |r| Ok(UserId(r.uuid("author_id")?))).await
                }

                /// A newest-first page of `select` (whose table is `alias`, with `id` and
                /// `created_at` columns) in `room`, only those in `status` when given.
                async fn newest_first<T>(&self, select: &str, alias: &str, room: RoomId, page: RecordPage, status: Option<&str>, decode: Decode<T>) -> StoreResult<Vec<T>> {
                    let filter = match status {
                        Some(_) => format!(" AND {alias}.status = $5"),
                        None => String::new(),
                    };
                    let sql = format!(
                        "{select} WHERE {alias}.room_id = $1{filter} \
                         AND ($2 IS NULL OR {alias}.created_at < $2 OR ({alias}.created_at = $2 AND {alias}.id < $3)) \
                         ORDER BY {alias}.created_at DESC, {alias}.id DESC LIMIT $4"
                    );
                    let q = by_id(&sql, room.0)
                        .bind(page.after.map(|a| DbTime(a.created_at)))
                        .bind(page.after.map(|a| DbId(a.id)))
                        .bind(i64::from(page.limit));
                    let q = match status {
                        Some(v) => q.bind(v),
                        None => q,
                    };
                    all(q, self.reader(), decode).await
                }

                /// The user whose name matches regardless of case, with `password_hash`.
                async fn user_named<T>(&self, username: &str, decode: Decode<T>) -> StoreResult<Option<T>> {
                    let sql = format!(
                        "SELECT id, username, created_at, password_hash FROM users WHERE {}",
                        <$store as Dialect>::USERNAME_IS
                    );
                    optional(sqlx::query(&sql).bind(username), self.reader(), decode).await
                }
            }

            #[async_trait::async_trait]
            impl $crate::domain::ports::Store for $store {
                async fn insert_message(&self, message: NewMessage) -> StoreResult<Message> {
                    self.store_message(message).await
                }

                async fn create_user(&self, user: &User, password_hash: &str) -> StoreResult<()> {
                    sqlx::query("INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(DbId(user.id.0))
                        .bind(&user.username)
                        .bind(password_hash)
                        .bind(DbTime(user.created_at))
                        .execute(self.writer())
                        .await
                        .map_err(conflict_as(Conflict::UsernameTaken))?;
                    Ok(())
                }

                async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
                    let sql = "SELECT id, username, created_at FROM users WHERE id = $1";
                    optional(by_id(sql, id.0), self.reader(), |r| user_from(r, "")).await
                }

                async fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>> {
                    self.user_named(username, |r| Ok((user_from(r, "")?, r.text("password_hash")?))).await
                }

                async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
                    self.user_named(username, |r| user_from(r, "")).await
                }

                async fn create_session(&self, hash: &[u8], user: UserId, at: Timestamp) -> StoreResult<()> {
                    let sql = "INSERT INTO sessions (token_hash, user_id, created_at, last_used_at) VALUES ($1, $2, $3, $3)";
                    let q = sqlx::query(sql).bind(hash).bind(DbId(user.0)).bind(DbTime(at));
                    changed(q, self.writer()).await.map(drop)
                }

                async fn session(&self, hash: &[u8]) -> StoreResult<Option<(User, SessionTimes)>> {
                    let sql = "SELECT u.id, u.username, u.created_at, s.created_at AS s_created_at, \
                         COALESCE(s.last_used_at, s.created_at) AS s_last_used_at \
                         FROM sessions s JOIN users u ON u.id = s.user_id \
                         WHERE s.token_hash = $1 AND s.revoked_at IS NULL";
                    optional(sqlx::query(sql).bind(hash), self.reader(), |r| {
                        let times = SessionTimes {
                            created_at: r.time("s_created_at")?,
                            last_used_at: r.time("s_last_used_at")?,
                        };
                        Ok((user_from(r, "")?, times))
                    })
                    .await
                }

                async fn touch_session(&self, hash: &[u8], at: Timestamp) -> StoreResult<()> {
                    // Never moves a use back (two nodes may touch out of order).
                    let sql = "UPDATE sessions SET last_used_at = $1 WHERE token_hash = $2 \
                         AND revoked_at IS NULL AND COALESCE(last_used_at, created_at) < $1";
                    changed(sqlx::query(sql).bind(DbTime(at)).bind(hash), self.writer()).await.map(drop)
                }

                async fn revoke_session(&self, hash: &[u8], at: Timestamp) -> StoreResult<()> {
                    let sql = "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL";
                    changed(sqlx::query(sql).bind(DbTime(at)).bind(hash), self.writer()).await.map(drop)
                }

                async fn create_room(&self, room: NewRoom) -> StoreResult<Room> {
                    let NewRoom { id, owner, created_at, settings } = room;
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    sqlx::query(
                        "INSERT INTO rooms (id, name, topic, type, max_users, owner_id, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(DbId(id.0))
                    .bind(settings.name.into_inner())
                    .bind(settings.topic.map(Topic::into_inner))
                    .bind(settings.room_type.as_str())
                    .bind(settings.max_users.map(MaxUsers::get))
                    .bind(DbId(owner.0))
                    .bind(DbTime(created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let sql = "INSERT INTO memberships (room_id, user_id, role, joined_at) VALUES ($1, $2, 'owner', $3)";
                    changed(by_pair(sql, id, owner).bind(DbTime(created_at)), &mut *tx).await?;
                    tx.commit().await.map_err(db_err)?;
                    self.written_room(id).await
                }

                async fn room(&self, id: RoomId) -> StoreResult<Option<Room>> {
                    let sql = format!("{ROOM_COLUMNS} {ROOM_FROM} WHERE r.id = $1");
                    optional(by_id(&sql, id.0), self.reader(), room_from).await
                }

                async fn room_access(&self, id: RoomId, user: Option<UserId>) -> StoreResult<Option<RoomAccess>> {
                    let sql = format!("{ROOM_COLUMNS}{ACCESS_COLUMNS} {ROOM_FROM} {ACCESS_JOINS} WHERE r.id = $2");
                    let q = sqlx::query(&sql).bind(user.map(|u| DbId(u.0))).bind(DbId(id.0));
                    optional(q, self.reader(), access_from).await
                }

                async fn list_rooms(&self, query: RoomQuery) -> StoreResult<Vec<Room>> {
                    let pattern = query.search.map(|s| {
                        let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                        format!("%{escaped}%")
                    });
                    // Pages in creation order; ids (UUIDs, whose text sorts like their bytes)
                    // break ties the same way on both dialects.
                    let sql = format!(
                        "{ROOM_COLUMNS} {ROOM_FROM} WHERE (r.type <> 'private' OR EXISTS \
                           (SELECT 1 FROM memberships vm WHERE vm.room_id = r.id AND vm.user_id = $1)) \
                         AND ($2 IS NULL OR r.name {like} $2 ESCAPE '\\' OR r.topic {like} $2 ESCAPE '\\') \
                         AND ($3 IS NULL OR r.created_at > $3 OR (r.created_at = $3 AND r.id > $4)) \
                         ORDER BY r.created_at, r.id LIMIT $5",
                        like = <$store as Dialect>::LIKE_CI
                    );
                    let q = sqlx::query(&sql)
                        .bind(query.viewer.map(|v| DbId(v.0)))
                        .bind(&pattern)
                        .bind(query.after.as_ref().map(|a| DbTime(a.created_at)))
                        .bind(query.after.as_ref().map(|a| DbId(a.id.0)))
                        .bind(i64::from(query.limit));
                    all(q, self.reader(), room_from).await
                }

                async fn update_room(&self, id: RoomId, patch: UpdateRoom, audit: Audit) -> StoreResult<Room> {
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    // One statement; a flag per field says whether the patch sets it.
                    let q = by_id(
                        "UPDATE rooms SET \
                           name = CASE WHEN $2 THEN $3 ELSE name END, \
                           topic = CASE WHEN $4 THEN $5 ELSE topic END, \
                           type = CASE WHEN $6 THEN $7 ELSE type END, \
                           max_users = CASE WHEN $8 THEN $9 ELSE max_users END, \
                           slow_mode_seconds = CASE WHEN $10 THEN $11 ELSE slow_mode_seconds END, \
                           posting_policy = CASE WHEN $12 THEN $13 ELSE posting_policy END \
                         WHERE id = $1",
                        id.0,
                    )
                    .bind(patch.name.is_some())
                    .bind(patch.name.map(RoomName::into_inner))
                    .bind(patch.topic.is_some())
                    .bind(patch.topic.flatten().map(Topic::into_inner))
                    .bind(patch.room_type.is_some())
                    .bind(patch.room_type.map(RoomType::as_str))
                    .bind(patch.max_users.is_some())
                    .bind(patch.max_users.flatten().map(MaxUsers::get))
                    .bind(patch.slow_mode.is_some())
                    .bind(patch.slow_mode.map(|s| s.seconds()))
                    .bind(patch.posting_policy.is_some())
                    .bind(patch.posting_policy.map(|p| p.as_str()));
                    if !changed(q, &mut *tx).await? {
                        return Err(StoreError::NotFound(Entity::Room));
                    }
                    Self::record(&mut tx, &audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    self.written_room(id).await
                }

                async fn set_blocked_terms(&self, id: RoomId, terms: BlockedTerms, audit: Audit) -> StoreResult<Room> {
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    let q = by_id("UPDATE rooms SET blocked_terms = $2 WHERE id = $1", id.0).bind(terms_json(&terms));
                    if !changed(q, &mut *tx).await? {
                        return Err(StoreError::NotFound(Entity::Room));
                    }
                    Self::record(&mut tx, &audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    self.written_room(id).await
                }

                async fn delete_room(&self, id: RoomId) -> StoreResult<bool> {
                    changed(by_id("DELETE FROM rooms WHERE id = $1", id.0), self.writer()).await
                }

                async fn membership(&self, room: RoomId, user: UserId) -> StoreResult<Option<Membership>> {
                    let mut conn = self.reader().acquire().await.map_err(db_err)?;
                    Self::membership_on(&mut conn, room, user).await
                }

                async fn members(&self, room: RoomId) -> StoreResult<Vec<Membership>> {
                    let sql = format!(
                        "{MEMBER_SELECT} WHERE m.room_id = $1 ORDER BY CASE m.role \
                         WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, m.joined_at, lower(u.username)"
                    );
                    all(by_id(&sql, room.0), self.reader(), member_from).await
                }

                async fn memberships_in(&self, user: UserId, rooms: &[RoomId]) -> StoreResult<Vec<Membership>> {
                    if rooms.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut query = sqlx::QueryBuilder::<$db>::new(format!("{MEMBER_SELECT} WHERE m.user_id = "));
                    query.push_bind(DbId(user.0)).push(" AND m.room_id IN (");
                    let mut ids = query.separated(", ");
                    for room in rooms {
                        ids.push_bind(DbId(room.0));
                    }
                    ids.push_unseparated(")");
                    all(query.build(), self.reader(), member_from).await
                }

                async fn add_member(&self, member: NewMember, capacity: i64) -> StoreResult<Membership> {
                    let NewMember { room, user, role, at, audit, invite } = member;
                    // Holding the room, no other join or ban in it runs between these checks
                    // and the insert; each statement sees what earlier holders committed.
                    let mut tx = self.begin_unbanned(room, user, at).await?;
                    let sql = "SELECT COUNT(*) AS n FROM memberships WHERE room_id = $1";
                    let count = optional(by_id(sql, room.0), &mut *tx, |r| r.int("n")).await?;
                    if count.unwrap_or(0) >= capacity {
                        return Err(StoreError::RoomFull(capacity));
                    }
                    if let Some(code) = invite {
                        // Counted only while the invite still admits someone at `at`.
                        let sql = "UPDATE invites SET uses = uses + 1 WHERE code = $1 AND room_id = $2 \
                             AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3) \
                             AND (max_uses IS NULL OR uses < max_uses)";
                        let q = sqlx::query(sql).bind(code.as_str()).bind(DbId(room.0)).bind(DbTime(at));
                        if !changed(q, &mut *tx).await? {
                            return Err(StoreError::NotFound(Entity::Invite));
                        }
                    }
                    let sql = "INSERT INTO memberships (room_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)";
                    by_pair(sql, room, user)
                        .bind(role.as_str())
                        .bind(DbTime(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict_as(Conflict::AlreadyMember))?;
                    Self::delete_pair(&mut tx, "join_requests", room, user).await?;
                    Self::record_opt(&mut tx, audit.as_ref()).await?;
                    // Read inside the transaction: a ban right after the commit must not turn
                    // a successful join into an error.
                    let member = required(Self::membership_on(&mut tx, room, user).await?, Entity::Membership)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(member)
                }

                async fn remove_member(&self, room: RoomId, user: UserId, audit: Option<Audit>) -> StoreResult<bool> {
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    // Defence in depth: the owner is never removed (the rule is `authorize`).
                    let sql = "DELETE FROM memberships WHERE room_id = $1 AND user_id = $2 AND role <> 'owner'";
                    if !changed(by_pair(sql, room, user), &mut *tx).await? {
                        return Ok(false);
                    }
                    Self::record_opt(&mut tx, audit.as_ref()).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(true)
                }

                async fn set_role(&self, room: RoomId, user: UserId, role: Role, audit: Audit) -> StoreResult<Membership> {
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    // Defence in depth: the owner's role never changes here (the rule is
                    // authorize's SetRole; ownership moves only by transfer_ownership).
                    let sql = "UPDATE memberships SET role = $3 WHERE room_id = $1 AND user_id = $2 AND role <> 'owner'";
                    if changed(by_pair(sql, room, user).bind(role.as_str()), &mut *tx).await? {
                        Self::record(&mut tx, &audit).await?;
                    }
                    let member = required(Self::membership_on(&mut tx, room, user).await?, Entity::Membership)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(member)
                }

                async fn transfer_ownership(&self, room: RoomId, to: UserId, audit: Audit) -> StoreResult<Room> {
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    // Serialised with other transfers, so a room never ends with two owners.
                    Self::lock_room(&mut tx, room).await?;
                    let promote = "UPDATE memberships SET role = 'owner', muted = FALSE, muted_until = NULL \
                         WHERE room_id = $1 AND user_id = $2";
                    if !changed(by_pair(promote, room, to), &mut *tx).await? {
                        return Err(StoreError::NotFound(Entity::Membership));
                    }
                    let demote = "UPDATE memberships SET role = 'admin' WHERE room_id = $1 AND role = 'owner' AND user_id <> $2";
                    changed(by_pair(demote, room, to), &mut *tx).await?;
                    changed(by_pair("UPDATE rooms SET owner_id = $2 WHERE id = $1", room, to), &mut *tx).await?;
                    Self::record(&mut tx, &audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    self.written_room(room).await
                }

                async fn set_mute(&self, room: RoomId, user: UserId, mute: Mute, audit: Audit) -> StoreResult<Membership> {
                    let (muted, until) = mute.columns();
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    let sql = "UPDATE memberships SET muted = $3, muted_until = $4 WHERE room_id = $1 AND user_id = $2";
                    if !changed(by_pair(sql, room, user).bind(muted).bind(until.map(DbTime)), &mut *tx).await? {
                        return Err(StoreError::NotFound(Entity::Membership));
                    }
                    Self::record(&mut tx, &audit).await?;
                    let member = required(Self::membership_on(&mut tx, room, user).await?, Entity::Membership)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(member)
                }

                async fn claim_post(&self, room: RoomId, user: UserId, at: Timestamp, interval: chrono::Duration) -> StoreResult<Option<Timestamp>> {
                    let sql = "UPDATE memberships SET last_posted_at = $3 WHERE room_id = $1 AND user_id = $2 \
                         AND (last_posted_at IS NULL OR last_posted_at <= $4)";
                    let q = by_pair(sql, room, user).bind(DbTime(at)).bind(DbTime(at - interval));
                    if changed(q, self.writer()).await? {
                        return Ok(None);
                    }
                    let sql = "SELECT last_posted_at FROM memberships WHERE room_id = $1 AND user_id = $2";
                    let last = optional(by_pair(sql, room, user), self.writer(), |r| r.opt_time("last_posted_at")).await?;
                    // No membership any more: nothing to claim (the send fails on its own).
                    Ok(Some(last.flatten().unwrap_or(at)))
                }

                async fn lift_mute(&self, mute: TimedMute) -> StoreResult<Option<Membership>> {
                    // Only the mute that ends at `until`: of several nodes, one lifts it.
                    let sql = "UPDATE memberships SET muted = FALSE, muted_until = NULL \
                         WHERE room_id = $1 AND user_id = $2 AND muted = TRUE AND muted_until = $3";
                    let q = by_pair(sql, mute.room, mute.user).bind(DbTime(mute.until));
                    if !changed(q, self.writer()).await? {
                        return Ok(None);
                    }
                    self.written_membership(mute.room, mute.user).await.map(Some)
                }

                async fn mark_read(&self, room: RoomId, user: UserId, seq: i64) -> StoreResult<(Membership, bool)> {
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    let sql = "UPDATE memberships SET last_read_seq = $3 \
                         WHERE room_id = $1 AND user_id = $2 AND last_read_seq < $3";
                    let moved = changed(by_pair(sql, room, user).bind(seq), &mut *tx).await?;
                    let member = required(Self::membership_on(&mut tx, room, user).await?, Entity::Membership)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok((member, moved))
                }

                async fn member_rooms(&self, user: UserId, only: Option<RoomId>, limit: u32) -> StoreResult<Vec<(Room, ReadState)>> {
                    // One statement, so the count and the room's last seq agree.
                    let sql = format!(
                        "{ROOM_COLUMNS}, vm.last_read_seq AS vm_last_read_seq, \
                           (SELECT COUNT(*) FROM messages m WHERE m.room_id = r.id \
                             AND m.seq > vm.last_read_seq AND m.author_id <> vm.user_id) AS vm_unread \
                         {ROOM_FROM} JOIN memberships vm ON vm.room_id = r.id \
                         WHERE vm.user_id = $1 AND ($2 IS NULL OR r.id = $2) \
                         ORDER BY r.created_at, r.id LIMIT $3"
                    );
                    let q = by_id(&sql, user.0)
                        .bind(only.map(|r| DbId(r.0)))
                        .bind(i64::from(limit));
                    all(q, self.reader(), |r| {
                        Ok((room_from(r)?, ReadState { read_seq: r.int("vm_last_read_seq")?, unread: r.int("vm_unread")? }))
                    })
                    .await
                }

                async fn unread_count(&self, room: RoomId, user: UserId) -> StoreResult<Option<i64>> {
                    let sql = "SELECT (SELECT COUNT(*) FROM messages m WHERE m.room_id = vm.room_id \
                           AND m.seq > vm.last_read_seq AND m.author_id <> vm.user_id) AS n \
                         FROM memberships vm WHERE vm.room_id = $1 AND vm.user_id = $2";
                    optional(by_pair(sql, room, user), self.reader(), |r| r.int("n")).await
                }

                async fn timed_mutes(&self) -> StoreResult<Vec<TimedMute>> {
                    let sql = "SELECT room_id, user_id, muted_until FROM memberships \
                         WHERE muted = TRUE AND muted_until IS NOT NULL";
                    all(sqlx::query(sql), self.reader(), |r| {
                        Ok(TimedMute {
                            room: RoomId(r.uuid("room_id")?),
                            user: UserId(r.uuid("user_id")?),
                            until: r.time("muted_until")?,
                        })
                    })
                    .await
                }

                async fn ban(&self, ban: NewBan) -> StoreResult<BanOutcome> {
                    let NewBan { room, user, by, reason, at, expires_at, purge_since } = ban;
                    let reason = reason.map(Note::into_inner);
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    // Serialised with joins, so a join cannot slip in after the membership
                    // is removed.
                    Self::lock_room(&mut tx, room).await?;
                    // A timed ban whose time is up but that no one lifted yet is replaced.
                    let sql = "DELETE FROM bans WHERE room_id = $1 AND user_id = $2 AND expires_at <= $3";
                    changed(by_pair(sql, room, user).bind(DbTime(at)), &mut *tx).await?;
                    let sql = "INSERT INTO bans (room_id, user_id, banned_by, reason, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
                    by_pair(sql, room, user)
                        .bind(DbId(by.0))
                        .bind(reason.as_deref())
                        .bind(DbTime(at))
                        .bind(expires_at.map(DbTime))
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict_as(Conflict::AlreadyBanned))?;
                    for table in ["memberships", "join_requests"] {
                        Self::delete_pair(&mut tx, table, room, user).await?;
                    }
                    let audit = |action, reason| Audit { room, action, actor: by, target: Some(user), reason, at };
                    Self::record(&mut tx, &audit(ModerationAction::MemberBanned, reason)).await?;
                    let mut purged = Vec::new();
                    if let Some(since) = purge_since {
                        // No index on authors or times (it would cost every message insert):
                        // the window is found from the newest message backwards along the
                        // room's sequence, whose order follows the clock to within the time a
                        // message can wait to be stored (far less than PURGE_SLACK).
                        let sql = "SELECT seq FROM messages WHERE room_id = $1 AND created_at < $2 ORDER BY seq DESC LIMIT 1";
                        let q = by_id(sql, room.0).bind(DbTime(since - PURGE_SLACK));
                        let floor = optional(q, &mut *tx, |r| r.int("seq")).await?.unwrap_or(0);
                        let sql = "DELETE FROM messages WHERE room_id = $1 AND author_id = $2 AND seq > $4 \
                             AND created_at >= $3 RETURNING id, seq";
                        let q = by_pair(sql, room, user).bind(DbTime(since)).bind(floor);
                        let mut rows = all(q, &mut *tx, |r| Ok((r.int("seq")?, MessageId(r.uuid("id")?)))).await?;
                        rows.sort_unstable_by_key(|(seq, _)| *seq);
                        purged = rows.into_iter().map(|(_, id)| id).collect();
                        if !purged.is_empty() {
                            let what = format!("{} messages", purged.len());
                            Self::record(&mut tx, &audit(ModerationAction::MessagesPurged, Some(what))).await?;
                        }
                    }
                    let sql = format!("{BAN_SELECT} WHERE b.room_id = $1 AND b.user_id = $2");
                    let ban = optional(by_pair(&sql, room, user), &mut *tx, ban_from).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(BanOutcome { ban: required(ban, Entity::Ban)?, purged })
                }

                async fn unban(&self, room: RoomId, user: UserId, audit: Audit) -> StoreResult<bool> {
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    // A timed ban whose time is up counts as lifted already.
                    let sql = "DELETE FROM bans WHERE room_id = $1 AND user_id = $2 AND (expires_at IS NULL OR expires_at > $3)";
                    if !changed(by_pair(sql, room, user).bind(DbTime(audit.at)), &mut *tx).await? {
                        return Ok(false);
                    }
                    Self::record(&mut tx, &audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(true)
                }

                async fn lift_ban(&self, ban: TimedBan) -> StoreResult<bool> {
                    // Only the ban that ends at `until`: of several nodes, one lifts it.
                    let sql = "DELETE FROM bans WHERE room_id = $1 AND user_id = $2 AND expires_at = $3";
                    changed(by_pair(sql, ban.room, ban.user).bind(DbTime(ban.until)), self.writer()).await
                }

                async fn timed_bans(&self) -> StoreResult<Vec<TimedBan>> {
                    let sql = "SELECT room_id, user_id, expires_at FROM bans WHERE expires_at IS NOT NULL";
                    all(sqlx::query(sql), self.reader(), |r| {
                        Ok(TimedBan {
                            room: RoomId(r.uuid("room_id")?),
                            user: UserId(r.uuid("user_id")?),
                            until: r.time("expires_at")?,
                        })
                    })
                    .await
                }

                async fn bans(&self, room: RoomId) -> StoreResult<Vec<Ban>> {
                    self.in_room(BAN_SELECT, "b", room, ban_from).await
                }

                async fn ban_of(&self, room: RoomId, user: UserId) -> StoreResult<Option<Ban>> {
                    let sql = format!("{BAN_SELECT} WHERE b.room_id = $1 AND b.user_id = $2");
                    optional(by_pair(&sql, room, user), self.reader(), ban_from).await
                }

                async fn create_join_request(&self, request: NewJoinRequest) -> StoreResult<JoinRequest> {
                    let NewJoinRequest { room, user, message, at } = request;
                    let mut tx = self.begin_unbanned(room, user, at).await?;
                    let sql = "INSERT INTO join_requests (room_id, user_id, message, created_at) VALUES ($1, $2, $3, $4)";
                    by_pair(sql, room, user)
                        .bind(message.map(Note::into_inner))
                        .bind(DbTime(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict_as(Conflict::JoinRequestPending))?;
                    let sql = format!("{REQUEST_SELECT} WHERE j.room_id = $1 AND j.user_id = $2");
                    let request = optional(by_pair(&sql, room, user), &mut *tx, request_from).await?;
                    tx.commit().await.map_err(db_err)?;
                    required(request, Entity::JoinRequest)
                }

                async fn join_requests(&self, room: RoomId) -> StoreResult<Vec<JoinRequest>> {
                    self.in_room(REQUEST_SELECT, "j", room, request_from).await
                }

                async fn join_request(&self, room: RoomId, user: UserId) -> StoreResult<Option<JoinRequest>> {
                    let sql = format!("{REQUEST_SELECT} WHERE j.room_id = $1 AND j.user_id = $2");
                    optional(by_pair(&sql, room, user), self.reader(), request_from).await
                }

                async fn delete_join_request(&self, room: RoomId, user: UserId, audit: Option<Audit>) -> StoreResult<bool> {
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    if !Self::delete_pair(&mut tx, "join_requests", room, user).await? {
                        return Ok(false);
                    }
                    Self::record_opt(&mut tx, audit.as_ref()).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(true)
                }

                async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
                    let sql = format!("{MESSAGE_SELECT} WHERE m.id = $1");
                    optional(by_id(&sql, id.0), self.reader(), message_from).await
                }

                async fn delete_message(&self, id: MessageId, audit: Option<Audit>) -> StoreResult<bool> {
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    if Self::erase_message(&mut tx, id).await?.is_none() {
                        return Ok(false);
                    }
                    Self::record_opt(&mut tx, audit.as_ref()).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(true)
                }

                async fn messages_before(&self, room: RoomId, page: History) -> StoreResult<Vec<Message>> {
                    let sql = format!(
                        "{MESSAGE_SELECT} WHERE m.room_id = $1 AND (CAST($2 AS BIGINT) IS NULL OR m.seq < $2) \
                         ORDER BY m.seq DESC LIMIT $3"
                    );
                    let q = by_id(&sql, room.0).bind(page.before).bind(i64::from(page.limit));
                    all(q, self.reader(), message_from).await
                }

                async fn messages_after(&self, room: RoomId, read: CatchUp) -> StoreResult<Vec<Message>> {
                    let sql = format!(
                        "{MESSAGE_SELECT} WHERE m.room_id = $1 AND m.seq > $2 \
                         AND (CAST($3 AS BIGINT) IS NULL OR m.seq <= $3) ORDER BY m.seq LIMIT $4"
                    );
                    let q = by_id(&sql, room.0).bind(read.after).bind(read.up_to).bind(i64::from(read.limit));
                    all(q, self.reader(), message_from).await
                }

                async fn moderation_log(&self, room: RoomId, page: RecordPage) -> StoreResult<Vec<ModerationEntry>> {
                    self.newest_first(ENTRY_SELECT, "l", room, page, None, entry_from).await
                }

                async fn create_report(&self, report: NewReport) -> StoreResult<Report> {
                    let sql = "INSERT INTO reports (id, room_id, message_id, reporter_id, reason, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)";
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    by_id(sql, report.id.0)
                        .bind(DbId(report.room.0))
                        .bind(DbId(report.message.0))
                        .bind(DbId(report.reporter.0))
                        .bind(&report.reason)
                        .bind(DbTime(report.at))
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict_as(Conflict::ReportOpen))?;
                    let sql = format!("{REPORT_SELECT} WHERE p.id = $1");
                    let found = optional(by_id(&sql, report.id.0), &mut *tx, report_from).await?;
                    tx.commit().await.map_err(db_err)?;
                    required(found, Entity::Report)
                }

                async fn report(&self, id: ReportId) -> StoreResult<Option<Report>> {
                    let sql = format!("{REPORT_SELECT} WHERE p.id = $1");
                    optional(by_id(&sql, id.0), self.reader(), report_from).await
                }

                async fn reports(&self, room: RoomId, status: ReportStatus, page: RecordPage) -> StoreResult<Vec<Report>> {
                    self.newest_first(REPORT_SELECT, "p", room, page, Some(status.as_str()), report_from).await
                }

                async fn decide_report(&self, decision: ReportDecision) -> StoreResult<DecidedReport> {
                    let ReportDecision { id, status, by, at, delete_message } = decision;
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    let select = format!("{REPORT_SELECT} WHERE p.id = $1");
                    let open = required(optional(by_id(&select, id.0), &mut *tx, report_from).await?, Entity::Report)?;
                    let sql = "UPDATE reports SET status = $2, resolved_by = $3, resolved_at = $4 WHERE id = $1 AND status = 'open'";
                    let q = by_id(sql, id.0).bind(status.as_str()).bind(DbId(by.0)).bind(DbTime(at));
                    if !changed(q, &mut *tx).await? {
                        return Err(StoreError::Conflict(Conflict::ReportDecided));
                    }
                    let author = open.message.as_ref().map(|m| m.author.id);
                    let action = match status {
                        ReportStatus::Dismissed => ModerationAction::ReportDismissed,
                        _ => ModerationAction::ReportResolved,
                    };
                    let audit = |action, reason| Audit { room: open.room_id, action, actor: by, target: author, reason, at };
                    Self::record(&mut tx, &audit(action, Some(open.reason.clone()))).await?;
                    let mut deleted = None;
                    if let (true, Some(message)) = (delete_message, open.message.as_ref()) {
                        if Self::erase_message(&mut tx, message.id).await?.is_some() {
                            deleted = Some(message.id);
                            if author != Some(by) {
                                Self::record(&mut tx, &audit(ModerationAction::MessageDeleted, None)).await?;
                            }
                        }
                    }
                    let report = required(optional(by_id(&select, id.0), &mut *tx, report_from).await?, Entity::Report)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(DecidedReport { report, deleted })
                }

                async fn create_invite(&self, invite: NewInvite) -> StoreResult<Invite> {
                    let NewInvite { code, room, by, max_uses, expires_at, at, limit } = invite;
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    // Serialised with other creations in the room, so the cap holds.
                    Self::lock_room(&mut tx, room).await?;
                    let sql = "SELECT COUNT(*) AS n FROM invites WHERE room_id = $1 AND revoked_at IS NULL \
                         AND (expires_at IS NULL OR expires_at > $2) AND (max_uses IS NULL OR uses < max_uses)";
                    let working = optional(by_id(sql, room.0).bind(DbTime(at)), &mut *tx, |r| r.int("n")).await?;
                    if working.unwrap_or(0) >= limit {
                        return Err(StoreError::Conflict(Conflict::TooManyInvites));
                    }
                    let sql = "INSERT INTO invites (code, room_id, created_by, max_uses, expires_at, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)";
                    sqlx::query(sql)
                        .bind(code.as_str())
                        .bind(DbId(room.0))
                        .bind(DbId(by.0))
                        .bind(max_uses)
                        .bind(expires_at.map(DbTime))
                        .bind(DbTime(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    let audit = Audit { room, action: ModerationAction::InviteCreated, actor: by, target: None, reason: None, at };
                    Self::record(&mut tx, &audit).await?;
                    let sql = format!("{INVITE_SELECT} WHERE i.code = $1");
                    let found = optional(sqlx::query(&sql).bind(code.as_str()), &mut *tx, invite_from).await?;
                    tx.commit().await.map_err(db_err)?;
                    required(found, Entity::Invite)
                }

                async fn invite(&self, code: InviteCode) -> StoreResult<Option<Invite>> {
                    let sql = format!("{INVITE_SELECT} WHERE i.code = $1");
                    optional(sqlx::query(&sql).bind(code.as_str()), self.reader(), invite_from).await
                }

                async fn invites(&self, room: RoomId, now: Timestamp) -> StoreResult<Vec<Invite>> {
                    let sql = format!(
                        "{INVITE_SELECT} WHERE i.room_id = $1 AND i.revoked_at IS NULL \
                         AND (i.expires_at IS NULL OR i.expires_at > $2) ORDER BY i.created_at DESC, i.code"
                    );
                    all(by_id(&sql, room.0).bind(DbTime(now)), self.reader(), invite_from).await
                }

                async fn revoke_invite(&self, code: InviteCode, audit: Audit) -> StoreResult<bool> {
                    let mut tx = self.writer().begin().await.map_err(db_err)?;
                    let sql = "UPDATE invites SET revoked_at = $2 WHERE code = $1 AND room_id = $3 AND revoked_at IS NULL";
                    let q = sqlx::query(sql).bind(code.as_str()).bind(DbTime(audit.at)).bind(DbId(audit.room.0));
                    if !changed(q, &mut *tx).await? {
                        return Ok(false);
                    }
                    Self::record(&mut tx, &audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(true)
                }
            }
        };
    };
}
pub(crate) use store_impl;
