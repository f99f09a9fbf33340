// Every GraphQL operation the app uses. Types come from `npm run codegen`
// (src/gql, generated from the committed schema, never committed itself).
import { graphql } from './gql';

export const UserFields = graphql(`
  fragment UserFields on User {
    id
    username
  }
`);

export const MessageFields = graphql(`
  fragment MessageFields on Message {
    id
    roomId
    seq
    cursor
    body
    createdAt
    author {
      id
      username
    }
  }
`);

export const MemberFields = graphql(`
  fragment MemberFields on Member {
    role
    joinedAt
    muted
    mutedUntil
    user {
      id
      username
    }
  }
`);

export const RoomSummaryFields = graphql(`
  fragment RoomSummaryFields on Room {
    id
    name
    topic
    type
    maxUsers
    memberCount
    viewerRole
    slowModeSeconds
    postingPolicy
    createdAt
    owner {
      id
      username
    }
  }
`);

// What the room list shows of a room's newest message (its preview line).
export const LastMessageFields = graphql(`
  fragment LastMessageFields on Message {
    id
    body
    createdAt
    author {
      id
      username
    }
  }
`);

export const ReportFields = graphql(`
  fragment ReportFields on Report {
    id
    roomId
    reason
    status
    createdAt
    resolvedAt
    message {
      id
      body
      createdAt
      author {
        id
        username
      }
    }
    reporter {
      id
      username
    }
    resolvedBy {
      id
      username
    }
  }
`);

export const InviteFields = graphql(`
  fragment InviteFields on Invite {
    code
    maxUses
    uses
    expiresAt
    createdAt
    createdBy {
      id
      username
    }
  }
`);

export const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      id
      username
      createdAt
    }
  }
`);

export const RegisterMutation = graphql(`
  mutation Register($username: String!, $password: String!) {
    register(username: $username, password: $password) {
      token
      user {
        id
        username
      }
    }
  }
`);

export const LoginMutation = graphql(`
  mutation Login($username: String!, $password: String!) {
    login(username: $username, password: $password) {
      token
      user {
        id
        username
      }
    }
  }
`);

export const LogoutMutation = graphql(`
  mutation Logout {
    logout
  }
`);

// What the room list shows of a room: only that, since the server prices the list as a
// full page of it (a query over its complexity limit is refused).
export const RoomListFields = graphql(`
  fragment RoomListFields on Room {
    id
    name
    topic
    type
    maxUsers
    memberCount
    viewerRole
    unreadCount
    lastMessage {
      ...LastMessageFields
    }
  }
`);

export const RoomsQuery = graphql(`
  query Rooms($search: String, $first: Int) {
    rooms(first: $first, search: $search) {
      nodes {
        ...RoomListFields
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

// `viewerBan` comes with the room itself: a banned user still sees the room (and would
// otherwise be offered "Join room"), and one answer says both that the viewer is no longer
// a member and that a ban (who, why, until when) is why.
export const RoomQuery = graphql(`
  query Room($id: ID!) {
    room(id: $id) {
      ...RoomSummaryFields
      onlineCount
      viewerBan {
        reason
        expiresAt
        bannedBy {
          id
          username
        }
      }
    }
  }
`);

export const RoomMessagesQuery = graphql(`
  query RoomMessages($roomId: ID!, $last: Int, $before: String) {
    messages(roomId: $roomId, last: $last, before: $before) {
      nodes {
        ...MessageFields
      }
      pageInfo {
        hasPreviousPage
        startCursor
        endCursor
      }
    }
  }
`);

export const RoomMembersQuery = graphql(`
  query RoomMembers($roomId: ID!) {
    roomMembers(roomId: $roomId) {
      ...MemberFields
      online
    }
  }
`);

export const RoomAdminQuery = graphql(`
  query RoomAdmin($id: ID!) {
    room(id: $id) {
      id
      blockedTerms
      bans {
        reason
        createdAt
        expiresAt
        user {
          id
          username
        }
        bannedBy {
          id
          username
        }
      }
      joinRequests {
        message
        createdAt
        user {
          id
          username
        }
      }
    }
  }
`);

// Separate from RoomAdmin: the server prices every list by a full page, and one query
// holding all of them would exceed its complexity limit.
export const RoomReportsQuery = graphql(`
  query RoomReports($id: ID!) {
    room(id: $id) {
      id
      reports(status: OPEN, first: 50) {
        nodes {
          ...ReportFields
        }
        pageInfo {
          hasNextPage
        }
      }
    }
  }
`);

export const RoomInvitesQuery = graphql(`
  query RoomInvites($id: ID!) {
    room(id: $id) {
      id
      invites {
        ...InviteFields
      }
    }
  }
`);

export const ModerationLogQuery = graphql(`
  query ModerationLog($id: ID!, $first: Int, $after: String) {
    room(id: $id) {
      id
      moderationLog(first: $first, after: $after) {
        nodes {
          id
          action
          reason
          createdAt
          actor {
            id
            username
          }
          target {
            id
            username
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);

export const InviteQuery = graphql(`
  query Invite($code: String!) {
    invite(code: $code) {
      roomId
      name
      topic
      type
      memberCount
    }
  }
`);

export const UserByNameQuery = graphql(`
  query UserByName($username: String!) {
    user(username: $username) {
      id
      username
    }
  }
`);

export const CreateRoomMutation = graphql(`
  mutation CreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) {
      ...RoomSummaryFields
    }
  }
`);

export const UpdateRoomMutation = graphql(`
  mutation UpdateRoom($roomId: ID!, $input: UpdateRoomInput!) {
    updateRoom(roomId: $roomId, input: $input) {
      ...RoomSummaryFields
    }
  }
`);

export const DeleteRoomMutation = graphql(`
  mutation DeleteRoom($roomId: ID!) {
    deleteRoom(roomId: $roomId)
  }
`);

export const JoinRoomMutation = graphql(`
  mutation JoinRoom($roomId: ID!) {
    joinRoom(roomId: $roomId) {
      ...MemberFields
    }
  }
`);

export const RequestToJoinMutation = graphql(`
  mutation RequestToJoin($roomId: ID!, $message: String) {
    requestToJoin(roomId: $roomId, message: $message) {
      message
      createdAt
    }
  }
`);

export const ApproveJoinRequestMutation = graphql(`
  mutation ApproveJoinRequest($roomId: ID!, $userId: ID!) {
    approveJoinRequest(roomId: $roomId, userId: $userId) {
      ...MemberFields
    }
  }
`);

export const RejectJoinRequestMutation = graphql(`
  mutation RejectJoinRequest($roomId: ID!, $userId: ID!) {
    rejectJoinRequest(roomId: $roomId, userId: $userId)
  }
`);

export const LeaveRoomMutation = graphql(`
  mutation LeaveRoom($roomId: ID!) {
    leaveRoom(roomId: $roomId)
  }
`);

export const AddMemberMutation = graphql(`
  mutation AddMember($roomId: ID!, $userId: ID!) {
    addMember(roomId: $roomId, userId: $userId) {
      ...MemberFields
    }
  }
`);

export const RemoveMemberMutation = graphql(`
  mutation RemoveMember($roomId: ID!, $userId: ID!, $reason: String) {
    removeMember(roomId: $roomId, userId: $userId, reason: $reason)
  }
`);

export const SetMemberRoleMutation = graphql(`
  mutation SetMemberRole($roomId: ID!, $userId: ID!, $role: Role!) {
    setMemberRole(roomId: $roomId, userId: $userId, role: $role) {
      ...MemberFields
    }
  }
`);

export const TransferOwnershipMutation = graphql(`
  mutation TransferOwnership($roomId: ID!, $userId: ID!) {
    transferOwnership(roomId: $roomId, userId: $userId) {
      ...RoomSummaryFields
    }
  }
`);

export const MuteMemberMutation = graphql(`
  mutation MuteMember($roomId: ID!, $userId: ID!, $durationSeconds: Int) {
    muteMember(roomId: $roomId, userId: $userId, durationSeconds: $durationSeconds) {
      ...MemberFields
    }
  }
`);

export const UnmuteMemberMutation = graphql(`
  mutation UnmuteMember($roomId: ID!, $userId: ID!) {
    unmuteMember(roomId: $roomId, userId: $userId) {
      ...MemberFields
    }
  }
`);

export const BanUserMutation = graphql(`
  mutation BanUser($roomId: ID!, $userId: ID!, $reason: String, $durationSeconds: Int, $deleteMessagesSeconds: Int) {
    banUser(roomId: $roomId, userId: $userId, reason: $reason, durationSeconds: $durationSeconds, deleteMessagesSeconds: $deleteMessagesSeconds) {
      reason
      createdAt
      expiresAt
    }
  }
`);

export const SetBlockedTermsMutation = graphql(`
  mutation SetBlockedTerms($roomId: ID!, $terms: [String!]!) {
    setBlockedTerms(roomId: $roomId, terms: $terms) {
      id
      blockedTerms
    }
  }
`);

export const ReportMessageMutation = graphql(`
  mutation ReportMessage($messageId: ID!, $reason: String!) {
    reportMessage(messageId: $messageId, reason: $reason) {
      id
      status
    }
  }
`);

export const ResolveReportMutation = graphql(`
  mutation ResolveReport($reportId: ID!, $deleteMessage: Boolean!) {
    resolveReport(reportId: $reportId, deleteMessage: $deleteMessage) {
      ...ReportFields
    }
  }
`);

export const DismissReportMutation = graphql(`
  mutation DismissReport($reportId: ID!) {
    dismissReport(reportId: $reportId) {
      ...ReportFields
    }
  }
`);

export const CreateInviteMutation = graphql(`
  mutation CreateInvite($roomId: ID!, $maxUses: Int, $expiresInSeconds: Int) {
    createInvite(roomId: $roomId, maxUses: $maxUses, expiresInSeconds: $expiresInSeconds) {
      ...InviteFields
    }
  }
`);

export const RevokeInviteMutation = graphql(`
  mutation RevokeInvite($code: String!) {
    revokeInvite(code: $code)
  }
`);

export const JoinByInviteMutation = graphql(`
  mutation JoinByInvite($code: String!) {
    joinByInvite(code: $code) {
      ...MemberFields
    }
  }
`);

export const UnbanUserMutation = graphql(`
  mutation UnbanUser($roomId: ID!, $userId: ID!) {
    unbanUser(roomId: $roomId, userId: $userId)
  }
`);

export const SendMessageMutation = graphql(`
  mutation SendMessage($roomId: ID!, $body: String!) {
    sendMessage(roomId: $roomId, body: $body) {
      ...MessageFields
    }
  }
`);

export const SetTypingMutation = graphql(`
  mutation SetTyping($roomId: ID!, $typing: Boolean!) {
    setTyping(roomId: $roomId, typing: $typing)
  }
`);

export const MarkReadMutation = graphql(`
  mutation MarkRead($roomId: ID!, $cursor: String!) {
    markRead(roomId: $roomId, cursor: $cursor) {
      lastReadCursor
    }
  }
`);

export const DeleteMessageMutation = graphql(`
  mutation DeleteMessage($messageId: ID!) {
    deleteMessage(messageId: $messageId)
  }
`);

export const RoomMessagesSubscription = graphql(`
  subscription RoomMessagesLive($roomId: ID!, $after: String) {
    roomMessages(roomId: $roomId, after: $after) {
      ...MessageFields
    }
  }
`);

export const RoomEventsSubscription = graphql(`
  subscription RoomEventsLive($roomId: ID!) {
    roomEvents(roomId: $roomId) {
      __typename
      ... on MemberJoined {
        roomId
        member {
          ...MemberFields
        }
      }
      ... on MemberLeft {
        roomId
        user {
          id
          username
        }
      }
      ... on MemberRemoved {
        roomId
        reason
        user {
          id
          username
        }
        by {
          id
          username
        }
      }
      ... on MemberBanned {
        roomId
        ban {
          reason
          expiresAt
          user {
            id
            username
          }
          bannedBy {
            id
            username
          }
        }
      }
      ... on MemberUnbanned {
        roomId
        user {
          id
          username
        }
      }
      ... on MemberMuted {
        roomId
        member {
          ...MemberFields
        }
      }
      ... on MemberUnmuted {
        roomId
        member {
          ...MemberFields
        }
      }
      ... on MemberRoleChanged {
        roomId
        member {
          ...MemberFields
        }
      }
      ... on JoinRequested {
        roomId
        request {
          message
          user {
            id
            username
          }
        }
      }
      ... on MessageDeleted {
        roomId
        messageId
      }
      ... on RoomUpdated {
        roomId
        room {
          ...RoomSummaryFields
        }
      }
      ... on RoomDeleted {
        roomId
      }
      ... on MessagesPurged {
        roomId
        messageIds
        user {
          id
          username
        }
      }
      ... on MessageReported {
        report {
          ...ReportFields
        }
      }
      ... on ReportDecided {
        report {
          ...ReportFields
        }
      }
      ... on ReadMarkerMoved {
        roomId
        cursor
        user {
          id
          username
        }
      }
      ... on TypingChanged {
        roomId
        typing
        user {
          id
          username
        }
      }
      ... on PresenceChanged {
        roomId
        online
        user {
          id
          username
        }
      }
    }
  }
`);

// The viewer's own feed: it replaces polling the room list. `RoomActivity` carries the
// count and the newest message itself (asking the room for them would read storage);
// its room is the feed's own copy, so only plain fields are asked of it.
export const ViewerEventsSubscription = graphql(`
  subscription ViewerEventsLive {
    viewerEvents {
      __typename
      ... on RoomActivity {
        unreadCount
        lastMessage {
          ...LastMessageFields
        }
        room {
          id
          name
          memberCount
        }
      }
      ... on JoinRequestApproved {
        room {
          id
          name
        }
      }
      ... on JoinRequestRejected {
        roomId
        name
      }
      ... on AddedToRoom {
        room {
          id
          name
        }
      }
      ... on RemovedFromRoom {
        roomId
        name
        reason
        banned
        by {
          id
          username
        }
      }
      ... on RoomListChanged {
        roomId
      }
    }
  }
`);
