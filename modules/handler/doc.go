// Package handler answers the JSON-RPC methods of CONTRACT section 2: it
// decodes and checks each accepted message's params (-32602 naming the field),
// hands conversation.send to the turn manager, and answers
// conversation.cancel, workspace.delete and runner.ping. Unknown methods get
// -32601. It must not run turns or talk to Electric: it sits between the
// intake (sync) and the conversation manager.
package handler
