package sync

// The Electric side of CONTRACT section 2: the one place its wire names live.

// Shape definition of the runner's inbox. The runner id is never pasted into
// the where clause: it travels as params[1].
const (
	table       = "runner_messages"
	whereRunner = "runner_id = $1"
	shapePath   = "/v1/shape"
)

// Columns of runner_messages.
const (
	colID          = "id"
	colRunnerID    = "runner_id"
	colWorkspaceID = "workspace_id"
	colPayload     = "payload"
	colCreatedAt   = "created_at"
)

// Query parameters of the Shape API.
const (
	qTable         = "table"
	qWhere         = "where"
	qParam1        = "params[1]"
	qOffset        = "offset"
	qHandle        = "handle"
	qLive          = "live"
	qCursor        = "cursor"
	qExpiredHandle = "expired_handle"
	qCacheBuster   = "cache-buster"
)

// Response headers of the Shape API.
const (
	hHandle     = "electric-handle"
	hOffset     = "electric-offset"
	hCursor     = "electric-cursor"
	hSchema     = "electric-schema"
	hUpToDate   = "electric-up-to-date"
	hRetryAfter = "retry-after"
)

// Offsets and control messages.
const (
	offsetBeforeAll = "-1"
	ctlUpToDate     = "up-to-date"
	ctlMustRefetch  = "must-refetch"
	ctlSnapshotEnd  = "snapshot-end"
)

// Change operations.
const (
	opInsert = "insert"
	opUpdate = "update"
	opDelete = "delete"
)
