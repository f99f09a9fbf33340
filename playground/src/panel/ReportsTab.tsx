// Admins: the room's open reports, newest first, kept current by the MessageReported and
// ReportDecided events (the room view refetches its admin data on each).
import { useClient } from 'urql';
import type { ReportFieldsFragment } from '../gql/graphql';
import { DismissReportMutation, ResolveReportMutation } from '../operations';
import type { Act } from '../RoomPanel';
import { Avatar, Spinner } from '../ui';
import { formatDateTime } from '../util';

export function ReportsTab({ reports, more, loaded, act }: { reports: readonly ReportFieldsFragment[]; more: boolean; loaded: boolean; act: Act }) {
  const client = useClient();
  if (!loaded) {
    return (
      <div className="center-screen">
        <Spinner label="Loading reports" />
      </div>
    );
  }
  return (
    <ul className="member-list report-list">
      {reports.length === 0 && <li className="muted small pad">No open reports.</li>}
      {reports.map((r) => {
        const m = r.message;
        return (
          <li key={r.id} className="member report" data-testid="report" data-report-id={r.id}>
            <div className="member-row">
              <Avatar name={r.reporter.username} size={30} />
              <div className="member-info">
                <span className="member-name">
                  <span data-testid="reporter">{r.reporter.username}</span> <span className="muted">reported {m ? `a message by ${m.author.username}` : 'a message'}</span>
                </span>
                <span className="muted small">{formatDateTime(r.createdAt)}</span>
              </div>
            </div>
            <div className="report-body">
              {m ? (
                <blockquote className="quoted" data-testid="reported-message">
                  <span className="quoted-author">{m.author.username}</span>
                  <span className="quoted-body">{m.body}</span>
                </blockquote>
              ) : (
                <p className="quoted quoted-gone" data-testid="reported-message">Message deleted</p>
              )}
              <p className="report-reason">
                <span className="muted">Reason:</span> {r.reason}
              </p>
              <div className="action-line">
                <button type="button" className="btn btn-sm btn-primary" onClick={() => act(client.mutation(ResolveReportMutation, { reportId: r.id, deleteMessage: false }).toPromise(), 'Report resolved.')}>
                  Resolve
                </button>
                {m && (
                  <button
                    type="button"
                    className="btn btn-sm btn-danger-outline"
                    onClick={() => act(client.mutation(ResolveReportMutation, { reportId: r.id, deleteMessage: true }).toPromise(), 'Report resolved and the message deleted.')}
                  >
                    Resolve and delete message
                  </button>
                )}
                <button type="button" className="btn btn-sm" onClick={() => act(client.mutation(DismissReportMutation, { reportId: r.id }).toPromise(), 'Report dismissed.')}>
                  Dismiss
                </button>
              </div>
            </div>
          </li>
        );
      })}
      {more && <li className="muted small pad">Showing the newest {reports.length} open reports; decide on some to see older ones.</li>}
    </ul>
  );
}
