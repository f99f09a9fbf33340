//! Reports of messages to a room's moderators, their decisions, and the moderation log.

use super::*;

impl RoomService {
    /// Reports a message to the room's admins (anyone who may read it). A second open
    /// report of the same message by the same user is CONFLICT.
    #[tracing::instrument(skip_all, fields(message_id = %id))]
    pub async fn report_message(
        &self,
        viewer: &Viewer,
        id: MessageId,
        reason: ReportReason,
    ) -> DomainResult<Report> {
        let reporter = viewer.require()?;
        let (message, _) = self
            .readable_message(viewer, id, Action::ReportMessage)
            .await?;
        // Reports share the sender's message rate: they cost the same to store and to read.
        self.throttles
            .messages
            .check(&reporter.id, "messages and reports from you")?;
        let report = self
            .store
            .create_report(NewReport {
                id: ReportId::new(),
                room: message.room_id,
                message: message.id,
                reporter: reporter.id,
                reason: reason.into_inner(),
                at: self.clock.now(),
            })
            .await?;
        self.publish(RoomEvent::MessageReported(report.clone()));
        Ok(report)
    }

    /// Resolves (optionally erasing the message, as `deleteMessage` does) or dismisses an
    /// open report. Admins of the report's room.
    #[tracing::instrument(skip_all, fields(report_id = %id))]
    pub async fn decide_report(
        &self,
        viewer: &Viewer,
        id: ReportId,
        status: ReportStatus,
        delete_message: bool,
    ) -> DomainResult<Report> {
        let actor = viewer.require()?;
        let not_found = || DomainError::NotFound("report not found".into());
        let report = self.store.report(id).await?.ok_or_else(not_found)?;
        self.authorized(viewer, report.room_id, Action::DecideReport)
            .await
            .map_err(|e| match e {
                DomainError::NotFound(_) => not_found(),
                other => other,
            })?;
        let decided = self
            .store
            .decide_report(ReportDecision {
                id,
                status,
                by: actor.id,
                at: self.clock.now(),
                delete_message: delete_message && status == ReportStatus::Resolved,
            })
            .await?;
        if let Some(message_id) = decided.deleted {
            self.publish(RoomEvent::MessageDeleted {
                room_id: report.room_id,
                message_id,
            });
        }
        self.publish(RoomEvent::ReportDecided(decided.report.clone()));
        Ok(decided.report)
    }

    /// The room's reports in `status`, newest first (admins).
    pub async fn reports(
        &self,
        viewer: &Viewer,
        room: RoomId,
        status: ReportStatus,
        first: PageSize,
        after: Option<RecordCursor>,
    ) -> DomainResult<Page<Report>> {
        self.authorized(viewer, room, Action::ViewReports).await?;
        let page = RecordPage {
            after,
            limit: first.get() + 1,
        };
        let rows = self.store.reports(room, status, page).await?;
        Ok(page_of(rows, first))
    }

    /// The room's moderation log, newest first (admins).
    pub async fn moderation_log(
        &self,
        viewer: &Viewer,
        room: RoomId,
        first: PageSize,
        after: Option<RecordCursor>,
    ) -> DomainResult<Page<ModerationEntry>> {
        self.authorized(viewer, room, Action::ViewModerationLog)
            .await?;
        let page = RecordPage {
            after,
            limit: first.get() + 1,
        };
        let rows = self.store.moderation_log(room, page).await?;
        Ok(page_of(rows, first))
    }
}

/// `rows` (read with one more than `first`) as a page of at most `first`.
fn page_of<T>(mut rows: Vec<T>, first: PageSize) -> Page<T> {
    let has_more = rows.len() > first.get() as usize;
    rows.truncate(first.get() as usize);
    Page {
        items: rows,
        has_more,
    }
}
