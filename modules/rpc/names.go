package rpc

// Version is the only JSON-RPC version spoken.
const Version = "2.0"

// Inbound methods, carried by Electric rows (CONTRACT.md section 2).
const (
	MethodConversationSend   = "conversation.send"
	MethodConversationCancel = "conversation.cancel"
	MethodWorkspaceDelete    = "workspace.delete"
	MethodRunnerPing         = "runner.ping"
)

// Outbound notifications to the orchestrator (CONTRACT.md section 3).
const (
	NotifyEvent     = "conversation.event"
	NotifyState     = "conversation.state"
	NotifyHeartbeat = "runner.heartbeat"
)

// Turn states of conversation.state.
const (
	StateQueued    = "queued"
	StatePreparing = "preparing"
	StateRunning   = "running"
	StateFinished  = "finished"
)

// Final statuses of a conversation.send result.
const (
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusTimeout   = "timeout"
)

// Error codes.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeCheckoutFailed = -32001
	CodeSandboxFailed  = -32002
	CodeAgentFailed    = -32003
	CodeTimeout        = -32004
	CodeCancelled      = -32005
	CodeShuttingDown   = -32006
)
