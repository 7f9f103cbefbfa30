package main

import (
	"fmt"
	"os"
)

// Version is the Claude Code release this fake imitates.
const Version = "2.1.330"

type obj = map[string]any

var defaultTools = []string{"Task", "Bash", "CronCreate", "CronDelete", "CronList", "Edit", "EnterWorktree",
	"ExitWorktree", "ListAgents", "Monitor", "NotebookEdit", "Read", "ReportFindings", "ScheduleWakeup",
	"SendMessage", "Skill", "TaskStop", "ToolSearch", "WebFetch", "WebSearch", "Workflow", "Write"}

var skills = []string{"deep-research", "dataviz", "update-config", "verify", "debug", "code-review", "simplify",
	"batch", "fewer-permission-prompts", "doctor", "loop", "claude-api", "workflow-authoring", "run",
	"run-skill-generator", "plugin-authoring"}

// apiKeySource is where the CLI says its API key comes from.
func apiKeySource() string {
	if os.Getenv("ANTHROPIC_API_KEY") != "" {
		return "ANTHROPIC_API_KEY"
	}
	return "none"
}

// initLine is the system/init line that opens every turn.
func (a *agent) initLine() obj {
	slash := append(append([]string{}, skills...), "agents", "clear", "compact", "config", "context", "init", "mcp", "model", "usage")
	return obj{
		"type": "system", "subtype": "init",
		"cwd": a.cwd, "session_id": a.sess.id, "tools": defaultTools, "mcp_servers": []any{},
		"model": a.model, "permissionMode": a.opts.mode(),
		"slash_commands": slash, "terminal_slash_commands": []string{"doctor", "color", "focus", "reload-plugins"},
		"apiKeySource": apiKeySource(), "claude_code_version": Version, "output_style": "default",
		"agents":             []string{"claude", "Explore", "general-purpose", "Plan", "statusline-setup"},
		"skills":             skills,
		"plugins":            []obj{{"name": "cc-plugin-agents-md", "path": "builtin", "source": "cc-plugin-agents-md@builtin"}},
		"capabilities":       []string{"interrupt_receipt_v1", "interrupt_cancel_queued_v1", "msg_lifecycle_v1"},
		"analytics_disabled": true, "product_feedback_disabled": true,
		"served_by_anthropic": os.Getenv("ANTHROPIC_BASE_URL") == "",
		"uuid":                newUUID(),
		"memory_paths":        obj{"auto": a.store.projectDir() + "/memory/"},
		"original_cwd":        a.cwd, "additional_directories": []any{},
		"messaging_socket_path": fmt.Sprintf("/tmp/cc-socks-%d/%d.sock", os.Getuid(), os.Getpid()),
		"fast_mode_state":       "off", "fast_mode_disabled_reason": "sdk_opt_in_required",
		"per_turn_effort_active": true, "ultrathink_available": false, "ultrathink_typed_raises": false,
		"view_mode": "default",
	}
}

// assistantLine wraps one content block in an assistant message line.
func (a *agent) assistantLine(msgID string, block obj) obj {
	return obj{
		"type": "assistant",
		"message": obj{
			"id": msgID, "type": "message", "role": "assistant", "model": a.model,
			"content": []obj{block}, "stop_reason": nil, "stop_sequence": nil,
			"usage":              obj{"input_tokens": 100, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1},
			"context_management": nil,
		},
		"parent_tool_use_id": nil, "session_id": a.sess.id, "uuid": newUUID(), "timestamp": timestamp(),
		"request_id": "req_demo_" + randHex(8),
	}
}

// streamEventLine wraps one raw API stream event (README section 3.5).
func (a *agent) streamEventLine(event obj) obj {
	return obj{"type": "stream_event", "event": event, "session_id": a.sess.id, "parent_tool_use_id": nil, "uuid": newUUID()}
}

func textBlock(text string) obj { return obj{"type": "text", "text": text} }

// toolResultLine is the user line carrying a Bash tool's result.
func (a *agent) toolResultLine(toolID, content string, isError bool) obj {
	return obj{
		"type": "user",
		"message": obj{"role": "user", "content": []obj{{
			"tool_use_id": toolID, "type": "tool_result", "content": content, "is_error": isError,
		}}},
		"parent_tool_use_id": nil, "session_id": a.sess.id, "uuid": newUUID(), "timestamp": timestamp(),
		"tool_use_result":  obj{"stdout": content, "stderr": "", "interrupted": false, "isImage": false, "noOutputExpected": false},
		"tool_result_meta": []obj{{"id": toolID, "permission_decision": obj{"decision": "accept", "source": "config", "reason_type": "mode"}}},
	}
}

// interruptedLine is what the CLI prints when a turn is interrupted.
func (a *agent) interruptedLine() obj {
	return obj{
		"type":               "user",
		"message":            obj{"role": "user", "content": []obj{textBlock("[Request interrupted by user]")}},
		"parent_tool_use_id": nil, "session_id": a.sess.id, "uuid": newUUID(), "timestamp": timestamp(),
	}
}

func usage(rounds int) obj {
	return obj{
		"input_tokens": 100 * rounds, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
		"output_tokens": 25 * rounds, "output_tokens_details": obj{"thinking_tokens": 0},
		"server_tool_use": obj{"web_search_requests": 0, "web_fetch_requests": 0}, "service_tier": "standard",
		"cache_creation": obj{"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
		"inference_geo":  "", "iterations": []any{}, "speed": "standard", "fallback_credit": nil,
	}
}

func (a *agent) modelUsage(rounds int) obj {
	if rounds == 0 {
		return obj{}
	}
	return obj{a.model: obj{
		"inputTokens": 100 * rounds, "outputTokens": 25 * rounds, "cacheReadInputTokens": 0,
		"cacheCreationInputTokens": 0, "webSearchRequests": 0, "costUSD": cost(rounds),
		"contextWindow": 1000000, "maxOutputTokens": 128000, "thinkingTokens": 0,
		"cacheCreationEphemeral5mInputTokens": 0, "cacheCreationEphemeral1hInputTokens": 0,
		"canonicalModel": a.model, "provider": "firstParty", "costBasis": "list",
	}}
}

func cost(rounds int) float64 { return float64(rounds) * 0.0009 }

// outcome is how a turn ended, as the result line reports it.
type outcome struct {
	subtype    string // success, error_max_turns, error_during_execution
	isError    bool
	text       *string // result text; nil on error subtypes
	errors     []string
	terminal   string // completed, max_turns, aborted_streaming, api_error
	stopReason any
	rounds     int // model calls made
	apiStatus  any
}

// resultLine is the turn's terminating result line.
func (a *agent) resultLine(t *turn, o outcome) obj {
	ms := t.elapsedMS()
	line := obj{
		"type": "result", "subtype": o.subtype, "is_error": o.isError,
		"duration_ms": ms, "duration_api_ms": ms / 2, "num_turns": o.rounds,
		"stop_reason": o.stopReason, "session_id": a.sess.id, "total_cost_usd": cost(o.rounds),
		"usage": usage(o.rounds), "modelUsage": a.modelUsage(o.rounds),
		"model_usage_since_last_result": a.modelUsage(o.rounds),
		"permission_denials":            []any{}, "fast_mode_state": "off", "fast_mode_disabled_reason": "sdk_opt_in_required",
		"subagent_stats": obj{"spawned": 0, "requested": obj{"background": 0, "foreground": 0, "unset": 0},
			"started_in_background": 0, "max_depth": 0, "spawned_by_subagents": 0, "completed": 0, "failed": 0,
			"killed": obj{"parent": 0, "user": 0, "system": 0}, "refused": obj{"depth_limit": 0, "concurrency_limit": 0, "budget": 0},
			"by_type": obj{}},
		"safety_stops": 0, "uuid": newUUID(), "queued_turn_count": t.queued, "result_index": a.resultIndex,
	}
	a.resultIndex++
	if o.terminal != "" {
		line["terminal_reason"] = o.terminal
	}
	if o.text != nil {
		line["result"] = *o.text
		line["api_error_status"] = o.apiStatus
		line["ttft_ms"] = ms / 2
		line["ttft_stream_ms"] = ms / 2
		line["time_to_request_ms"] = ms / 4
		line["first_content_frame_ms"] = ms / 2
	}
	if len(o.errors) > 0 {
		line["errors"] = o.errors
	}
	return line
}

// resumeMissingLine is the only line printed for an unknown --resume id.
func resumeMissingLine(id string) obj {
	return obj{
		"type": "result", "subtype": "error_during_execution", "duration_ms": 0, "duration_api_ms": 0,
		"is_error": true, "num_turns": 0, "stop_reason": nil, "session_id": id, "total_cost_usd": 0,
		"usage": usage(0), "modelUsage": obj{}, "permission_denials": []any{}, "uuid": newUUID(),
		"errors": []string{"No conversation found with session ID: " + id}, "result_index": 0,
	}
}
